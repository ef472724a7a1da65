//! The auth core. Every rule — parsing, password checks, token checks, role checks,
//! throttling — lives here once; the REST handlers and the Leptos server functions are
//! two thin doors into `AuthService`.

pub mod domain;
pub mod error;
pub mod password;
pub mod throttle;
pub mod token;

use std::{net::IpAddr, sync::Arc};

use app::model::{AuditEventView, Role, SessionView, UserView};

use crate::{
    clock::Clock,
    config::{Config, SigningConfig},
    metrics::Metrics,
    store::{
        AuditQuery, NewAuditEvent, NewSession, NewUser, Page, Rotation, Store, StoredSigningKey,
        UserChange, UserQuery, UserRecord,
    },
};
use domain::{Email, Password, Username};
pub use error::{AuthError, TokenProblem};
use password::{PasswordHasherPool, Verified};
use throttle::{LoginKeys, LoginThrottle, WindowLimiter};
use token::{
    ACCESS_TOKEN_TYPE, AccessClaims, Ed25519KeyMaterial, RefreshHash, RefreshSecret, TokenSigner,
};

pub type AuthResult<T> = Result<T, AuthError>;

/// Who is calling, proven by a verified, unrevoked access token.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    /// The role the store holds now, not the one written in the token.
    pub role: Role,
    pub session_id: String,
    pub jti: String,
    pub token_expires_at: i64,
}

/// Where a request came from, as far as the server can tell.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    const MAX_USER_AGENT_CHARS: usize = 256;

    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        ClientInfo {
            ip,
            user_agent: user_agent
                .map(|agent| agent.chars().take(Self::MAX_USER_AGENT_CHARS).collect()),
        }
    }

    fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    fn throttle_key(&self) -> String {
        format!(
            "ip:{}",
            self.ip_string().unwrap_or_else(|| "unknown".into())
        )
    }
}

/// What sign-up accepts, before parsing.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub role: Option<String>,
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
}

pub struct AuthService {
    store: Arc<dyn Store>,
    signer: TokenSigner,
    hasher: PasswordHasherPool,
    clock: Arc<dyn Clock>,
    login_throttle: LoginThrottle,
    signup_limiter: WindowLimiter,
    refresh_limiter: WindowLimiter,
    access_ttl: i64,
    refresh_ttl: i64,
    metrics: Metrics,
}

impl AuthService {
    /// Loads (or on first start creates) the signing key, and creates the bootstrap
    /// admin when configured and no admin exists yet.
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> AuthResult<AuthService> {
        let signer = match &config.signing {
            SigningConfig::Hs256 { secret } => TokenSigner::hs256(secret, &config.issuer),
            SigningConfig::EdDsa => {
                let candidate = Ed25519KeyMaterial::generate()?;
                let stored = store
                    .signing_key_or_insert(StoredSigningKey {
                        kid: candidate.kid.clone(),
                        algorithm: "EdDSA".into(),
                        private_der: candidate.private_pkcs8.clone(),
                        public_raw: candidate.public_raw.clone(),
                        created_at: clock.now(),
                    })
                    .await?;
                let key = Ed25519KeyMaterial {
                    kid: stored.kid,
                    private_pkcs8: stored.private_der,
                    public_raw: stored.public_raw,
                };
                TokenSigner::ed25519(&key, &config.issuer)?
            }
        };
        let hasher = PasswordHasherPool::new(config.hash_params, config.max_concurrent_hashes)?;
        domain::preload_common_passwords();
        let throttle = &config.throttle;
        let service = AuthService {
            store,
            signer,
            hasher,
            clock,
            login_throttle: LoginThrottle::new(throttle.clone()),
            signup_limiter: WindowLimiter::new(throttle.signups_per_ip, throttle.window),
            refresh_limiter: WindowLimiter::new(throttle.refreshes_per_ip, throttle.window),
            access_ttl: config.access_ttl.as_secs() as i64,
            refresh_ttl: config.refresh_ttl.as_secs() as i64,
            metrics: Metrics::default(),
        };
        if let Some((username, password)) = &config.bootstrap_admin {
            service.bootstrap_admin(username, password).await?;
        }
        Ok(service)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn jwks(&self) -> &serde_json::Value {
        self.signer.jwks()
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl
    }

    pub async fn ready(&self) -> AuthResult<()> {
        Ok(self.store.ping().await?)
    }

    // ----- accounts -------------------------------------------------------------------

    pub async fn signup(
        &self,
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
                return Err(AuthError::Invalid(domain::FieldError {
                    field: "role",
                    message: "must be \"user\" (or left out)".into(),
                }));
            }
        }
        let username = Username::parse(&request.username)?;
        let password = Password::parse_new(request.password, "password")?;
        let email = request
            .email
            .as_deref()
            .filter(|email| !email.trim().is_empty())
            .map(Email::parse)
            .transpose()?;
        let user = self
            .insert_user(&username, &password, email.as_ref(), Role::User, now)
            .await?;
        self.audit("signup", Some(&user), client, None).await;
        Ok(view_of(&user))
    }

    /// The CLI's `admin create`: the operator is trusted, so this may add any admin.
    pub async fn create_admin(&self, username: &str, password: String) -> AuthResult<UserView> {
        let username = Username::parse(username)?;
        let password = Password::parse_new(password, "password")?;
        let user = self
            .insert_user(&username, &password, None, Role::Admin, self.now())
            .await?;
        self.audit(
            "admin_created",
            Some(&user),
            &ClientInfo::default(),
            Some("cli"),
        )
        .await;
        Ok(view_of(&user))
    }

    async fn bootstrap_admin(&self, username: &str, password: &str) -> AuthResult<()> {
        let username = Username::parse(username)?;
        let password =
            Password::parse_new(password.to_owned(), "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD")?;
        let hash = self.hasher.hash(&password).await?;
        let created = self
            .store
            .create_first_admin(NewUser {
                id: new_id(),
                username: username.as_str().to_owned(),
                username_key: username.key().to_owned(),
                email: None,
                password_hash: hash,
                role: Role::Admin,
                created_at: self.now(),
            })
            .await?;
        if let Some(user) = created {
            tracing::info!(username = %user.username, "created the bootstrap admin");
            self.audit(
                "admin_created",
                Some(&user),
                &ClientInfo::default(),
                Some("bootstrap"),
            )
            .await;
        }
        Ok(())
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
                email: email.map(|email| email.as_str().to_owned()),
                password_hash: hash,
                role,
                created_at: now,
            })
            .await?)
    }

    // ----- login, refresh, logout -----------------------------------------------------

    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> AuthResult<IssuedTokens> {
        let now = self.now();
        // The throttle key of a malformed name is its raw lower-cased text: bounded, and
        // the same answer whether or not any account exists.
        let parsed = Username::parse(username);
        let account_key = match &parsed {
            Ok(name) => format!("user:{}", name.key()),
            Err(_) => format!(
                "user:{}",
                username.chars().take(64).collect::<String>().to_lowercase()
            ),
        };
        let keys = LoginKeys {
            account: account_key,
            client: Some(client.throttle_key()),
        };
        self.login_throttle
            .check(&keys, now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;

        let password = Password::parse_offered(password, "password")
            .map_err(|_| AuthError::InvalidCredentials);
        let user = match &parsed {
            Ok(name) => self.store.user_by_username_key(name.key()).await?,
            Err(_) => None,
        };
        // Always run argon2 — against the dummy hash when there is no user — so that
        // status, body and time are the same for an unknown user and a wrong password.
        let verified = match &password {
            Ok(password) => {
                self.hasher
                    .verify(password, user.as_ref().map(|user| &user.password_hash))
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
                self.login_throttle.record_failure(&keys, now);
                let detail = username.chars().take(64).collect::<String>();
                self.audit("login_failed", user.as_ref(), client, Some(&detail))
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.login_throttle.record_success(&keys);
        if user.disabled {
            self.audit("login_refused_disabled", Some(&user), client, None)
                .await;
            return Err(AuthError::AccountDisabled);
        }

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
            })
            .await?;
        self.audit("login", Some(&user), client, None).await;
        self.issue(&user, session_id, refresh, refresh_expires_at, now)
    }

    /// Rotates a refresh token: the presented one dies, a new pair is returned. A token
    /// presented a second time revokes its whole session (RFC 9700 reuse detection).
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> AuthResult<IssuedTokens> {
        let now = self.now();
        self.refresh_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let presented =
            RefreshHash::of_presented(presented.trim()).ok_or(AuthError::InvalidRefreshToken)?;
        let successor = RefreshSecret::generate()?;
        let refresh_expires_at = now + self.refresh_ttl;
        match self
            .store
            .rotate_refresh(&presented, &successor.hash(), now, refresh_expires_at)
            .await?
        {
            Rotation::Rotated { session, user } => {
                self.metrics.refreshed();
                self.issue(&user, session.id, successor, refresh_expires_at, now)
            }
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(%session_id, %user_id, "refresh token reuse: session revoked");
                let user = self.store.user_by_id(&user_id).await?;
                self.audit(
                    "refresh_token_reuse",
                    user.as_ref(),
                    client,
                    Some(&session_id),
                )
                .await;
                Err(AuthError::RefreshTokenReused)
            }
            Rotation::Invalid => Err(AuthError::InvalidRefreshToken),
        }
    }

    fn issue(
        &self,
        user: &UserRecord,
        session_id: String,
        refresh: RefreshSecret,
        refresh_expires_at: i64,
        now: i64,
    ) -> AuthResult<IssuedTokens> {
        let access_expires_at = now + self.access_ttl;
        let claims = AccessClaims {
            sub: user.id.clone(),
            name: user.username.clone(),
            role: user.role,
            sid: session_id.clone(),
            jti: token::random_id()?,
            iat: now,
            nbf: now,
            exp: access_expires_at,
            iss: self.signer.issuer().to_owned(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
        };
        Ok(IssuedTokens {
            issued_at: now,
            access_token: self.signer.sign(&claims)?,
            access_expires_at,
            refresh_token: refresh,
            refresh_expires_at,
            session_id,
            user: view_of(user),
        })
    }

    /// The check behind every protected route: signature, algorithm, type, issuer, time,
    /// then one store lookup for revocation, session and user state.
    pub async fn authenticate(&self, access_token: Option<&str>) -> AuthResult<Principal> {
        let outcome = self.check_access_token(access_token).await;
        self.metrics.token_check(outcome.is_ok());
        outcome
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn check_access_token(&self, access_token: Option<&str>) -> AuthResult<Principal> {
        let token = access_token.ok_or(AuthError::InvalidToken(TokenProblem::Missing))?;
        let now = self.now();
        let claims = self
            .signer
            .verify(token, now)
            .map_err(|problem| AuthError::InvalidToken(TokenProblem::Rejected(problem)))?;
        let status = self
            .store
            .access_status(&claims.jti, &claims.sid, &claims.sub, now)
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::UserInactive))?;
        if status.jti_revoked {
            return Err(AuthError::InvalidToken(TokenProblem::Revoked));
        }
        if !status.session_active {
            return Err(AuthError::InvalidToken(TokenProblem::SessionEnded));
        }
        if status.user_disabled {
            return Err(AuthError::InvalidToken(TokenProblem::UserInactive));
        }
        Ok(Principal {
            user_id: claims.sub,
            username: status.username,
            role: status.role,
            session_id: claims.sid,
            jti: claims.jti,
            token_expires_at: claims.exp,
        })
    }

    /// The one role check: admin routes and admin server functions call this first.
    pub fn require_admin(&self, principal: &Principal) -> AuthResult<()> {
        if principal.role == Role::Admin {
            Ok(())
        } else {
            Err(AuthError::Forbidden("This needs the admin role"))
        }
    }

    /// Ends the caller's session and revokes the access token in hand.
    pub async fn logout(&self, principal: &Principal, client: &ClientInfo) -> AuthResult<()> {
        let now = self.now();
        self.store
            .revoke_jti(&principal.jti, principal.token_expires_at)
            .await?;
        self.store
            .revoke_session(&principal.user_id, &principal.session_id, now)
            .await?;
        self.audit_principal("logout", principal, client, None)
            .await;
        Ok(())
    }

    /// Ends the session a refresh token belongs to (the MongoDB ancestor's logout).
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
        self.audit("logout", user.as_ref(), client, None).await;
        Ok(())
    }

    /// Ends every session of the caller, this one included.
    pub async fn logout_everywhere(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let now = self.now();
        self.store
            .revoke_jti(&principal.jti, principal.token_expires_at)
            .await?;
        let ended = self
            .store
            .revoke_user_sessions(&principal.user_id, None, now)
            .await?;
        self.audit_principal("logout_everywhere", principal, client, None)
            .await;
        Ok(ended)
    }

    // ----- the caller's own account ----------------------------------------------------

    pub async fn me(&self, principal: &Principal) -> AuthResult<UserView> {
        let user = self
            .store
            .user_by_id(&principal.user_id)
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::UserInactive))?;
        Ok(view_of(&user))
    }

    pub async fn sessions(&self, principal: &Principal) -> AuthResult<Vec<SessionView>> {
        let sessions = self
            .store
            .list_sessions(&principal.user_id, self.now())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == principal.session_id,
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: session.expires_at,
                user_agent: session.user_agent,
                ip: session.ip,
            })
            .collect())
    }

    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        if !self
            .store
            .revoke_session(&principal.user_id, session_id, now)
            .await?
        {
            return Err(AuthError::NotFound("session"));
        }
        if session_id == principal.session_id {
            self.store
                .revoke_jti(&principal.jti, principal.token_expires_at)
                .await?;
        }
        self.audit_principal("session_revoked", principal, client, Some(session_id))
            .await;
        Ok(())
    }

    pub async fn revoke_other_sessions(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let ended = self
            .store
            .revoke_user_sessions(&principal.user_id, Some(&principal.session_id), self.now())
            .await?;
        self.audit_principal("other_sessions_revoked", principal, client, None)
            .await;
        Ok(ended)
    }

    /// Needs the current password; ends every other session of the user.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: String,
        new_password: String,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        let keys = LoginKeys {
            account: format!("user:{}", principal.username.to_lowercase()),
            client: Some(client.throttle_key()),
        };
        self.login_throttle
            .check(&keys, now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let new_password = Password::parse_new(new_password, "new_password")?;
        let current = Password::parse_offered(current_password, "current_password")?;
        let user = self
            .store
            .user_by_id(&principal.user_id)
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::UserInactive))?;
        if self
            .hasher
            .verify(&current, Some(&user.password_hash))
            .await?
            == Verified::No
        {
            self.login_throttle.record_failure(&keys, now);
            return Err(AuthError::Invalid(domain::FieldError {
                field: "current_password",
                message: "is not correct".into(),
            }));
        }
        let hash = self.hasher.hash(&new_password).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store
            .revoke_user_sessions(&user.id, Some(&principal.session_id), now)
            .await?;
        self.audit("password_changed", Some(&user), client, None)
            .await;
        Ok(())
    }

    // ----- administration ---------------------------------------------------------------

    pub async fn list_users(
        &self,
        principal: &Principal,
        search: Option<String>,
        page: u64,
        per_page: u64,
    ) -> AuthResult<Page<UserView>> {
        self.require_admin(principal)?;
        let (offset, limit) = paging(page, per_page);
        let found = self
            .store
            .list_users(&UserQuery {
                search: search
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().to_owned()),
                offset,
                limit,
            })
            .await?;
        Ok(Page {
            items: found.items.iter().map(view_of).collect(),
            total: found.total,
        })
    }

    /// Changes a user's role or disabled flag. Disabling ends all of that user's
    /// sessions; no change may leave the service without an active admin.
    pub async fn update_user(
        &self,
        principal: &Principal,
        user_id: &str,
        change: UserChange,
        client: &ClientInfo,
    ) -> AuthResult<UserView> {
        self.require_admin(principal)?;
        let updated =
            self.store
                .update_user(user_id, &change)
                .await
                .map_err(|error| match error {
                    crate::store::StoreError::NotFound => AuthError::NotFound("user"),
                    other => other.into(),
                })?;
        if change.disabled == Some(true) {
            self.store
                .revoke_user_sessions(&updated.id, None, self.now())
                .await?;
        }
        let detail = format!(
            "by {}: role={}, disabled={}",
            principal.username, updated.role, updated.disabled
        );
        self.audit("user_updated", Some(&updated), client, Some(&detail))
            .await;
        Ok(view_of(&updated))
    }

    pub async fn audit_log(
        &self,
        principal: &Principal,
        kind: Option<String>,
        page: u64,
        per_page: u64,
    ) -> AuthResult<Page<AuditEventView>> {
        self.require_admin(principal)?;
        let (offset, limit) = paging(page, per_page);
        let found = self
            .store
            .list_audit(&AuditQuery {
                kind: kind.filter(|k| !k.trim().is_empty()),
                user_id: None,
                offset,
                limit,
            })
            .await?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(|event| AuditEventView {
                    id: event.id,
                    at: event.at,
                    kind: event.kind,
                    user_id: event.user_id,
                    username: event.username,
                    ip: event.ip,
                    detail: event.detail,
                })
                .collect(),
            total: found.total,
        })
    }

    /// Removes what has expired; run periodically.
    pub async fn purge_expired(&self) -> AuthResult<u64> {
        Ok(self.store.purge_expired(self.now()).await?)
    }

    async fn audit_principal(
        &self,
        kind: &'static str,
        principal: &Principal,
        client: &ClientInfo,
        detail: Option<&str>,
    ) {
        self.record(NewAuditEvent {
            at: self.now(),
            kind,
            user_id: Some(principal.user_id.clone()),
            username: Some(principal.username.clone()),
            ip: client.ip_string(),
            user_agent: client.user_agent.clone(),
            detail: detail.map(str::to_owned),
        })
        .await;
    }

    async fn audit(
        &self,
        kind: &'static str,
        user: Option<&UserRecord>,
        client: &ClientInfo,
        detail: Option<&str>,
    ) {
        self.record(NewAuditEvent {
            at: self.now(),
            kind,
            user_id: user.map(|user| user.id.clone()),
            username: user.map(|user| user.username.clone()),
            ip: client.ip_string(),
            user_agent: client.user_agent.clone(),
            detail: detail.map(str::to_owned),
        })
        .await;
    }

    /// An audit write that fails is logged, not turned into a failed request: the
    /// action itself already happened.
    async fn record(&self, event: NewAuditEvent) {
        let kind = event.kind;
        self.metrics.event(kind);
        if let Err(error) = self.store.append_audit(event).await {
            tracing::error!(%error, kind, "could not write an audit event");
        }
    }
}

/// Page numbers start at 1; at most 100 rows a page.
fn paging(page: u64, per_page: u64) -> (u64, u64) {
    let limit = per_page.clamp(1, 100);
    let offset = page.max(1).saturating_sub(1).saturating_mul(limit);
    (offset, limit)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn view_of(user: &UserRecord) -> UserView {
    UserView {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role,
        disabled: user.disabled,
        created_at: user.created_at,
    }
}
