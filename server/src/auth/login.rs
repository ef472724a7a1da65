//! Sign-in, refresh-token rotation and sign-out: where sessions begin and end.

use app::model::UserView;

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal,
    audit::AuditActor,
    password::Verified,
    service::{new_id, view_of},
    step_up::StepUp,
    throttle::Attempt,
    token::{AccessGrant, RefreshSecret},
};
use crate::{
    domain::{FirstStep, Password, RefreshHash, SignInMethod, Username, Way},
    store::{NewSession, Rotation, UserRecord},
};

/// What a right password leads to.
#[derive(Debug)]
pub enum SignIn {
    Tokens(IssuedTokens),
    /// The account has a second factor: no tokens until it is given too.
    SecondFactor(StepUp),
}

/// A fresh token pair.
#[derive(Debug)]
pub struct IssuedTokens {
    /// When these were issued (Unix seconds): lifetimes are counted from here.
    pub issued_at: i64,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: RefreshSecret,
    pub refresh_expires_at: i64,
    pub session_id: String,
    pub user: UserView,
    /// For a sign-in (not a refresh): the device cookie that lets this browser past the
    /// lockout others cause (see `login_keys`).
    pub device: Option<String>,
}

impl AuthService {
    /// A right password yields tokens, or — when the account has a second factor — a
    /// step-up ticket for `complete_sign_in`.
    #[tracing::instrument(name = "login", skip_all, fields(user_id))]
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> AuthResult<SignIn> {
        let now = self.now();
        let attempt = self
            .reserve_attempt(self.login_keys(username, client), now)
            .await?;

        let password = Password::parse_offered(password, "password")
            .map_err(|_| AuthError::InvalidCredentials);
        let user = match Username::parse(username) {
            Ok(name) => self.store.user_by_username_key(name.key()).await?,
            Err(_) => None,
        };
        // Always run argon2 — against the dummy hash when there is no user — so that
        // status, body and time are the same for an unknown user and a wrong password.
        let verified = match &password {
            Ok(password) => {
                self.hasher
                    .verify(
                        password,
                        user.as_ref().and_then(|user| user.password_hash.as_ref()),
                    )
                    .await?
            }
            Err(_) => Verified::No,
        };
        let user = match (user, verified) {
            (Some(user), Verified::Yes) => user,
            (Some(user), Verified::YesRehashed(stronger)) => {
                self.store.set_password_hash(&user.id, &stronger).await?;
                user
            }
            (user, _) => {
                // Counted already: the slot was taken before the guess. What was typed
                // as a name is kept only when it names an account: people type their
                // password into the name field.
                let detail = user.is_none().then_some("unknown account");
                self.audit(
                    "login_failed",
                    AuditActor::from_user(user.as_ref()),
                    client,
                    detail,
                )
                .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        tracing::Span::current().record("user_id", user.id.as_str());
        if !self.store.second_factors(&user.id).await?.required() {
            return self
                .admit(&user, attempt, client, now, SignInMethod::Password)
                .await
                .map(SignIn::Tokens);
        }
        self.second_step_after(&user, attempt, client, FirstStep::Password, now)
            .await
    }

    /// A right first step on an account with a second factor: a step-up ticket.
    pub(super) async fn second_step_after(
        &self,
        user: &UserRecord,
        attempt: Attempt,
        client: &ClientInfo,
        first_step: FirstStep,
        now: i64,
    ) -> AuthResult<SignIn> {
        // The account's count of failures is cleared only once the second step succeeds
        // too: a known password must not reset the count of wrong codes.
        self.attempt_was_right(attempt).await?;
        // Refused now rather than after the second step: a disabled account gets no
        // ticket.
        self.refuse_unless_admissible(user, first_step.ways(), client)
            .await?;
        let step_up = self.issue_step_up(user, first_step, now).await?;
        self.audit(
            "login_second_factor_required",
            AuditActor::User(user),
            client,
            first_step.stored(),
        )
        .await;
        Ok(SignIn::SecondFactor(step_up))
    }

    /// The end of every sign-in, once the user has proven who they are (a password on an
    /// account without a second factor, a passkey, a second step): the one place that
    /// refuses a disabled account or an unverified address, clears the count of failures
    /// and starts the session, which remembers `method` (the `login` event names it).
    pub(super) async fn admit(
        &self,
        user: &UserRecord,
        attempt: Attempt,
        client: &ClientInfo,
        now: i64,
        method: SignInMethod,
    ) -> AuthResult<IssuedTokens> {
        if let Err(refused) = self
            .refuse_unless_admissible(user, method.ways(), client)
            .await
        {
            self.attempt_was_right(attempt).await?;
            return Err(refused);
        }
        self.attempt_succeeded(attempt).await?;
        self.start_session(user, client, now, method).await
    }

    /// Only after a proof was right: the answer tells nothing to a guesser. `ways` are
    /// the ways the proof took, refused if the owner turned one off.
    async fn refuse_unless_admissible(
        &self,
        user: &UserRecord,
        ways: &[Way],
        client: &ClientInfo,
    ) -> AuthResult<()> {
        if user.disabled {
            self.audit(
                "login_refused_disabled",
                AuditActor::User(user),
                client,
                None,
            )
            .await;
            return Err(AuthError::AccountDisabled);
        }
        self.refuse_if_off(user, ways, client).await?;
        self.check_verified_email(user)
    }

    async fn start_session(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
        now: i64,
        method: SignInMethod,
    ) -> AuthResult<IssuedTokens> {
        let session_id = new_id();
        let refresh = RefreshSecret::generate()?;
        let refresh_expires_at = now + self.refresh_ttl;
        self.store
            .create_session(NewSession {
                id: session_id.clone(),
                user_id: user.id.clone(),
                refresh_hash: refresh.hash(),
                created_at: now,
                expires_at: refresh_expires_at,
                user_agent: client.user_agent.clone(),
                ip: client.ip_string(),
                sign_in: method,
                grant: None,
            })
            .await?;
        self.audit(
            "login",
            AuditActor::User(user),
            client,
            method.audit_detail(),
        )
        .await;
        let mut tokens = self
            .issue(user, session_id, refresh, refresh_expires_at, now)
            .await?;
        tokens.device = Some(self.device_cookie(&user.username, client)?);
        Ok(tokens)
    }

    /// Rotates a refresh token: the presented one dies, a new pair is returned. Presented
    /// again within the grace while its successor is still current (racing tabs, a
    /// retry), it yields that same successor; any other second use revokes the whole
    /// session (RFC 9700 reuse detection).
    #[tracing::instrument(name = "refresh", skip_all, fields(session_id))]
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> AuthResult<IssuedTokens> {
        let now = self.now();
        self.refresh_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let presented_token = presented.trim();
        let presented =
            RefreshHash::of_presented(presented_token).ok_or(AuthError::InvalidRefreshToken)?;
        let successor = self.keys().await?.successors.successor_of(presented_token);
        let refresh_expires_at = now + self.refresh_ttl;
        match self
            .store
            .rotate_refresh(
                &presented,
                &successor.hash(),
                now,
                refresh_expires_at,
                self.refresh_grace,
            )
            .await?
        {
            // An app's session (OpenID Connect) never rotates here: its tokens have another
            // prefix, which `of_presented` refuses, and this holds even if one got through.
            Rotation::Rotated { session, .. } if session.grant.is_some() => {
                Err(AuthError::InvalidRefreshToken)
            }
            Rotation::Rotated { session, user } => {
                tracing::Span::current().record("session_id", session.id.as_str());
                self.metrics.refreshed();
                self.issue(&user, session.id, successor, refresh_expires_at, now)
                    .await
            }
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(%session_id, %user_id, "refresh token reuse: session revoked");
                let user = self.store.user_by_id(&user_id).await?;
                self.audit(
                    "refresh_token_reuse",
                    AuditActor::from_user(user.as_ref()),
                    client,
                    Some(&session_id),
                )
                .await;
                Err(AuthError::RefreshTokenReused)
            }
            Rotation::Invalid => Err(AuthError::InvalidRefreshToken),
        }
    }

    async fn issue(
        &self,
        user: &UserRecord,
        session_id: String,
        refresh: RefreshSecret,
        refresh_expires_at: i64,
        now: i64,
    ) -> AuthResult<IssuedTokens> {
        let access = self.keys().await?.signer.issue(
            AccessGrant {
                user_id: &user.id,
                username: &user.username,
                role: user.role,
                session_id: &session_id,
            },
            now,
            self.access_ttl,
        )?;
        Ok(IssuedTokens {
            issued_at: now,
            access_token: access.token,
            access_expires_at: access.expires_at,
            refresh_token: refresh,
            refresh_expires_at,
            session_id,
            user: view_of(user),
            device: None,
        })
    }

    /// Ends the caller's session and revokes the access token in hand.
    #[tracing::instrument(name = "logout", skip_all, fields(user_id = %principal.user_id(), session_id = %principal.session_id()))]
    pub async fn logout(&self, principal: &Principal, client: &ClientInfo) -> AuthResult<()> {
        let now = self.now();
        self.store
            .revoke_jti(principal.jti(), principal.token_expires_at)
            .await?;
        self.store
            .revoke_session(principal.user_id(), principal.session_id(), now)
            .await?;
        self.audit("logout", AuditActor::Principal(principal), client, None)
            .await;
        Ok(())
    }

    /// Ends the session a refresh token belongs to (the MongoDB ancestor's logout).
    #[tracing::instrument(name = "logout with refresh token", skip_all)]
    pub async fn logout_with_refresh(
        &self,
        presented: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        let presented =
            RefreshHash::of_presented(presented.trim()).ok_or(AuthError::InvalidRefreshToken)?;
        let session = self
            .store
            .session_by_refresh(&presented, now)
            .await?
            .ok_or(AuthError::InvalidRefreshToken)?;
        self.store
            .revoke_session(&session.user_id, &session.id, now)
            .await?;
        let user = self.store.user_by_id(&session.user_id).await?;
        self.audit("logout", AuditActor::from_user(user.as_ref()), client, None)
            .await;
        Ok(())
    }

    /// Ends every session of the caller, this one included.
    #[tracing::instrument(name = "logout everywhere", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn logout_everywhere(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let now = self.now();
        self.store
            .revoke_jti(principal.jti(), principal.token_expires_at)
            .await?;
        let ended = self
            .store
            .revoke_user_sessions(principal.user_id(), None, now)
            .await?;
        self.audit(
            "logout_everywhere",
            AuditActor::Principal(principal),
            client,
            None,
        )
        .await;
        Ok(ended)
    }
}
