//! The auth service: what it holds, how it starts, and the pieces every operation uses.

use std::{net::IpAddr, sync::Arc};

use app::model::{Role, UserView};

use super::{
    AuthError, AuthResult,
    audit::AuditActor,
    key_ring::{IdTokenKeys, KeyMemory, SigningKeys},
    password::PasswordHasherPool,
    sealing::FactorKeys,
    throttle::{AttemptRules, WindowLimiter},
};
use crate::{
    clock::Clock,
    config::{Config, SigningConfig},
    domain::{self, Password, Username},
    mail::Mailer,
    metrics::Metrics,
    store::{AccessStore, NewUser, ServedStore, Store, UserRecord},
};

/// Where a request came from, as far as the server can tell.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The device cookie a browser presented, unchecked: `login_keys` opens it.
    pub device: Option<String>,
}

impl ClientInfo {
    const MAX_USER_AGENT_CHARS: usize = 256;

    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        ClientInfo {
            ip,
            user_agent: user_agent
                .map(|agent| agent.chars().take(Self::MAX_USER_AGENT_CHARS).collect()),
            device: None,
        }
    }

    /// The same client, presenting a device cookie.
    pub fn with_device(mut self, device: Option<&str>) -> Self {
        const MAX_DEVICE_CHARS: usize = 200;
        self.device = device
            .filter(|value| !value.is_empty() && value.len() <= MAX_DEVICE_CHARS)
            .map(str::to_owned);
        self
    }

    pub(super) fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// The key per-address limits count under. An IPv6 client is keyed by its /64: one
    /// subscriber usually holds a whole /64, and would otherwise get 2^64 allowances.
    pub(super) fn throttle_key(&self) -> String {
        match self.ip {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let [a, b, c, d, ..] = v6.segments();
                format!("ip:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
            Some(IpAddr::V6(v6)) => format!("ip:{}", v6.to_canonical()),
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        }
    }
}

pub struct AuthService {
    /// Every concern, straight to the backend.
    pub(super) store: Arc<dyn Store>,
    /// The access check, through this instance's memory: the hot path asks here only.
    pub(super) access: Arc<dyn AccessStore>,
    /// Loaded from the store on first need (a server starts while its database is down),
    /// and again after a rotation (`key_ring`).
    pub(super) signing_keys: KeyMemory<SigningKeys>,
    /// The RS256 keys of ID tokens, loaded (or made) on first need.
    pub(super) id_token_key_memory: KeyMemory<IdTokenKeys>,
    pub(super) key_source: KeySource,
    /// The configured first admin, until it exists (or another instance made one).
    pending_bootstrap: tokio::sync::Mutex<Option<(String, String)>>,
    pub(super) hasher: PasswordHasherPool,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) attempt_rules: AttemptRules,
    pub(super) signup_limiter: WindowLimiter,
    pub(super) refresh_limiter: WindowLimiter,
    pub(super) access_ttl: i64,
    pub(super) refresh_ttl: i64,
    pub(super) refresh_grace: i64,
    audit_retention: i64,
    pub(super) reauth_window: i64,
    pub(super) metrics: Metrics,
    pub(super) mailer: Mailer,
    pub(super) links: LinkSettings,
    pub(super) recovery_limiter: WindowLimiter,
    pub(super) mail_limiter: WindowLimiter,
    pub(super) factor_keys: FactorKeys,
    pub(super) webauthn: webauthn_rs::Webauthn,
    pub(super) ceremony_limiter: WindowLimiter,
    pub(super) forward_default: crate::config::ForwardDefault,
    pub(super) forward_rules: super::forward::RememberedRules,
    pub(super) admin_sign_in: crate::config::AdminSignIn,
    pub(super) upstream: super::upstream::UpstreamProviders,
}

pub(super) struct KeySource {
    pub signing: SigningConfig,
    pub issuer: String,
}

/// How mailed links are made and what they allow.
pub(super) struct LinkSettings {
    /// Scheme, host and port the links start with.
    pub public_url: String,
    pub reset_ttl: i64,
    pub verify_ttl: i64,
    pub require_verified_email: bool,
    pub reset_needs_verified_email: bool,
}

impl AuthService {
    /// Builds the service and finishes starting it if the store answers: the signing
    /// keys are loaded (or on first start created) and the bootstrap admin created when
    /// configured and no admin exists yet. With the store unreachable it starts all the
    /// same; `finish_start` is then retried until it succeeds, and until it has, the
    /// service is not ready (a 503) and token operations answer 503.
    pub async fn start(
        config: &Config,
        store: ServedStore,
        clock: Arc<dyn Clock>,
    ) -> AuthResult<AuthService> {
        let hasher = PasswordHasherPool::new(
            config.hash_params,
            config.max_concurrent_hashes,
            config.max_queued_hashes,
        )?;
        domain::preload_common_passwords();
        let metrics = Metrics::default();
        let mailer = Mailer::start(&config.mail, config.outbox_dir(), metrics.mail_counters())
            .map_err(|error| AuthError::Unexpected(error.into()))?;
        let links = LinkSettings {
            public_url: config
                .mail
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", config.listen)),
            reset_ttl: config.mail.reset_link_ttl.as_secs() as i64,
            verify_ttl: config.mail.verify_link_ttl.as_secs() as i64,
            require_verified_email: config.mail.require_verified_email,
            reset_needs_verified_email: config.mail.reset_needs_verified_email,
        };
        let factor_keys = FactorKeys::load(config.factor_keys.as_deref(), &config.data_dir)
            .map_err(|error| AuthError::Unexpected(error.into()))?;
        let webauthn = super::passkey::relying_party(
            config
                .passkey_origin
                .as_deref()
                .unwrap_or(&links.public_url),
        )
        .map_err(|error| AuthError::Unexpected(error.into()))?;
        let upstream =
            super::upstream::UpstreamProviders::new(&config.providers, &links.public_url)
                .map_err(|error| AuthError::Unexpected(error.into()))?;
        let throttle = &config.throttle;
        let service = AuthService {
            store: store.backend,
            access: store.access,
            signing_keys: KeyMemory::default(),
            id_token_key_memory: KeyMemory::default(),
            key_source: KeySource {
                signing: config.signing.clone(),
                issuer: config.issuer.clone(),
            },
            pending_bootstrap: tokio::sync::Mutex::new(config.bootstrap_admin.clone()),
            hasher,
            clock,
            attempt_rules: AttemptRules::new(throttle),
            signup_limiter: WindowLimiter::new(throttle.signups_per_ip, throttle.window),
            refresh_limiter: WindowLimiter::new(throttle.refreshes_per_ip, throttle.window),
            access_ttl: config.access_ttl.as_secs() as i64,
            refresh_ttl: config.refresh_ttl.as_secs() as i64,
            refresh_grace: config.refresh_grace.as_secs() as i64,
            audit_retention: config.audit_retention.as_secs() as i64,
            reauth_window: config.reauth_window.as_secs() as i64,
            metrics,
            mailer,
            links,
            recovery_limiter: WindowLimiter::new(
                throttle.recovery_requests_per_ip,
                throttle.window,
            ),
            mail_limiter: WindowLimiter::new(throttle.mails_per_account, throttle.window),
            factor_keys,
            webauthn,
            ceremony_limiter: WindowLimiter::new(throttle.refreshes_per_ip, throttle.window),
            forward_default: config.forward.default,
            forward_rules: Default::default(),
            admin_sign_in: config.admin_sign_in,
            upstream,
        };
        match service.finish_start().await {
            Err(AuthError::Unavailable(error)) => {
                tracing::warn!(%error, "the store is unreachable: starting anyway, not ready");
            }
            outcome => outcome?,
        }
        Ok(service)
    }

    /// Loads the signing keys and creates the pending bootstrap admin; idempotent.
    pub async fn finish_start(&self) -> AuthResult<()> {
        self.keys().await?;
        let mut pending = self.pending_bootstrap.lock().await;
        if let Some((username, password)) = pending.as_ref() {
            self.bootstrap_admin(username, password).await?;
            *pending = None;
        }
        Ok(())
    }

    /// Whether `finish_start` has succeeded.
    pub fn started(&self) -> bool {
        self.signing_keys.is_loaded()
            && self
                .pending_bootstrap
                .try_lock()
                .is_ok_and(|pending| pending.is_none())
    }

    pub(super) fn seal_key(&self, kid: &str, private: &[u8]) -> AuthResult<Vec<u8>> {
        super::key_ring::seal_private_key(&self.factor_keys, kid, private)
    }

    /// A key as stored: sealed (`v1.…` text), or — written before keys were sealed —
    /// the raw key, which no sealed value can be mistaken for (DER starts with 0x30; a
    /// sealed value is ASCII text).
    pub(super) fn open_key(&self, kid: &str, stored: Vec<u8>) -> AuthResult<Vec<u8>> {
        match std::str::from_utf8(&stored) {
            Ok(sealed) if sealed.starts_with("v1.") => Ok(self
                .factor_keys
                .open(&format!("key:{kid}"), sealed)?
                .plaintext),
            _ => Ok(stored),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The public keys of access tokens and of OpenID Connect ID tokens.
    pub async fn jwks(&self) -> AuthResult<serde_json::Value> {
        let now = self.now();
        let mut jwks = self.keys().await?.signer.jwks(now);
        let id_token_keys = self.id_token_keys().await?;
        if let Some(keys) = jwks["keys"].as_array_mut() {
            keys.extend(id_token_keys.published(now).cloned());
        }
        Ok(jwks)
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store answers and the service has finished starting.
    pub async fn ready(&self) -> AuthResult<()> {
        self.store.ping().await?;
        if !self.started() {
            self.finish_start().await?;
        }
        Ok(())
    }

    /// Removes what has expired; run periodically.
    #[tracing::instrument(name = "purge expired", skip_all)]
    /// Removes what has expired, and the audit events past their retention.
    pub async fn purge_expired(&self) -> AuthResult<u64> {
        let now = self.now();
        let expired =
            self.store.purge_expired(now).await? + self.purge_superseded_keys(now).await?;
        let old_events = self
            .store
            .purge_audit_before(now - self.audit_retention)
            .await?;
        Ok(expired + old_events)
    }

    /// Creates the configured first admin unless an admin exists already; several
    /// instances starting at once create exactly one.
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
                password_hash: Some(hash),
                role: Role::Admin,
                created_at: self.now(),
            })
            .await?;
        if let Some(user) = created {
            tracing::info!(username = %user.username, "created the bootstrap admin");
            self.audit(
                "admin_created",
                AuditActor::User(&user),
                &ClientInfo::default(),
                Some("bootstrap"),
            )
            .await;
        }
        Ok(())
    }
}

/// Time-ordered ids (UUIDv7): new rows sort last in every index.
pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn view_of(user: &UserRecord) -> UserView {
    UserView {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        role: user.role,
        disabled: user.disabled,
        created_at: user.created_at,
        sign_in_locked: false,
        has_second_factor: false,
        no_password: false,
    }
}

#[cfg(test)]
mod client_tests {
    use super::ClientInfo;

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        let key = |ip: &str| ClientInfo::new(Some(ip.parse().unwrap()), None).throttle_key();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(key("::ffff:192.0.2.1"), "ip:192.0.2.1");
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }
}
