//! Configuration comes from the environment; every setting has a default that works on a
//! fresh machine, except secrets, which have none. What each part configures lives in a
//! file of its own: `signing`, `throttle`, `mail`; `values` parses what the variables say.

mod forward;
mod mail;
mod providers;
mod signing;
#[cfg(test)]
mod tests;
mod throttle;
mod values;

use crate::forwarded::TrustedProxies;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use forward::{ForwardConfig, ForwardDefault};
pub use mail::{MailConfig, SmtpUrl};
pub use providers::{
    ProviderFields, ProviderKind, ProviderSettings, check_provider, parse_providers,
};
pub use signing::SigningConfig;
pub use throttle::ThrottleConfig;

use crate::auth::password::HashParams;
use mail::read_mail_config;
use signing::check_secret;
use values::{boolean, invalid, parse, seconds};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

const MAX_REVOCATION_BOUND: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The embedded store lives here.
    pub data_dir: PathBuf,
    /// A `mongodb://` or `mongodb+srv://` URL selects the MongoDB store.
    pub database_url: Option<String>,
    /// The MongoDB database to use instead of the one named in the URL.
    pub database_name: Option<String>,
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A refresh token presented again at most this long after it was rotated, while its
    /// successor is still current, yields that successor again instead of ending the
    /// session (several tabs, a retried request). Zero turns it off.
    pub refresh_grace: Duration,
    pub signing: SigningConfig,
    pub hash_params: HashParams,
    /// How many password hashes may run at once (each takes `m_cost` KiB of memory).
    pub max_concurrent_hashes: usize,
    /// How many more may wait; past that a login or sign-up is answered 503 with
    /// `Retry-After` at once instead of queueing without bound.
    pub max_queued_hashes: usize,
    pub throttle: ThrottleConfig,
    /// The one consistency setting: how long a revocation made on one instance may take
    /// to be honoured by the others sharing the store. Zero: every access check asks the
    /// store.
    pub revocation_bound: Duration,
    /// The reverse proxies in front of this server: the client is the right-most
    /// `X-Forwarded-For` address not among them. Empty: the peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Served over HTTPS: adds HSTS and `Secure` cookies.
    pub https: bool,
    pub log_json: bool,
    /// Created on first start when no admin exists yet.
    pub bootstrap_admin: Option<(String, String)>,
    /// Audit events older than this are removed (the purge runs every few minutes).
    pub audit_retention: Duration,
    /// Adding a factor needs a sign-in (or a re-entry of the password) at most this long
    /// ago; otherwise the current password in the request.
    pub reauth_window: Duration,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    pub mail: MailConfig,
    /// The keys second-factor secrets are sealed with (`id:base64,…`, the first seals);
    /// unset: the `factor-keys` file in the data directory, made on first start.
    pub factor_keys: Option<String>,
    /// The origin passkeys belong to (their relying party); unset: the public URL.
    pub passkey_origin: Option<String>,
    /// The forward-auth gate in front of other apps.
    pub forward: ForwardConfig,
    /// What an admin's session must have signed in with to use the admin role.
    pub admin_sign_in: AdminSignIn,
    /// Other providers people may sign in with (`GATEHOUSE_PROVIDERS`).
    pub providers: Vec<ProviderSettings>,
}

/// How strongly an admin must have signed in for the admin role to count. Set by the
/// operator, not on the admin pages: the rule guards those pages, so a session it would
/// refuse must not be able to lower it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdminSignIn {
    /// Any way in (the default).
    #[default]
    Any,
    /// Two factors: a password or a mailed code and a second step, or a passkey.
    SecondStep,
    /// A passkey, alone or as the second step.
    Passkey,
}

impl AdminSignIn {
    pub fn parse(value: &str) -> Option<AdminSignIn> {
        match value.trim() {
            "any" => Some(AdminSignIn::Any),
            "second_step" => Some(AdminSignIn::SecondStep),
            "passkey" => Some(AdminSignIn::Passkey),
            _ => None,
        }
    }

    /// The name `GATEHOUSE_ADMIN_SIGN_IN` takes and the admin page shows.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminSignIn::Any => "any",
            AdminSignIn::SecondStep => "second_step",
            AdminSignIn::Passkey => "passkey",
        }
    }
}

/// Every secret redacted: a config is logged at start, and a database URL carries its
/// password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "[redacted]");
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redacted(&self.database_url))
            .field("database_name", &self.database_name)
            .field("issuer", &self.issuer)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_grace", &self.refresh_grace)
            .field("signing", &self.signing)
            .field("hash_params", &self.hash_params)
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .field("max_queued_hashes", &self.max_queued_hashes)
            .field("throttle", &self.throttle)
            .field("revocation_bound", &self.revocation_bound)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("https", &self.https)
            .field("log_json", &self.log_json)
            .field(
                "bootstrap_admin",
                &self
                    .bootstrap_admin
                    .as_ref()
                    .map(|(name, _)| (name, "[redacted]")),
            )
            .field("audit_retention", &self.audit_retention)
            .field("reauth_window", &self.reauth_window)
            .field("metrics_token", &redacted(&self.metrics_token))
            .field("mail", &self.mail)
            .field("factor_keys", &redacted(&self.factor_keys))
            .field("passkey_origin", &self.passkey_origin)
            .field("forward", &self.forward)
            .field("admin_sign_in", &self.admin_sign_in)
            .field("providers", &self.providers)
            .finish()
    }
}

impl Config {
    /// Defaults for everything; the listen address is loopback.
    pub fn defaults() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_name: None,
            issuer: "gatehouse".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 60 * 60),
            refresh_grace: Duration::from_secs(5),
            signing: SigningConfig::EdDsa,
            hash_params: HashParams::default(),
            max_concurrent_hashes: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_queued_hashes: 128,
            throttle: ThrottleConfig::default(),
            revocation_bound: crate::store::remembered::DEFAULT_REVOCATION_BOUND,
            trusted_proxies: TrustedProxies::default(),
            https: false,
            metrics_token: None,
            audit_retention: Duration::from_secs(180 * 24 * 3600),
            reauth_window: Duration::from_secs(300),
            log_json: false,
            bootstrap_admin: None,
            mail: MailConfig::default(),
            factor_keys: None,
            passkey_origin: None,
            forward: ForwardConfig::default(),
            admin_sign_in: AdminSignIn::default(),
            providers: Vec::new(),
        }
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.mail
            .outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    /// Reads `GATEHOUSE_*` variables (and `LEPTOS_SITE_ADDR`, which cargo-leptos sets).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = Config::defaults();
        let var = |name: &'static str| get(name).filter(|value| !value.trim().is_empty());

        if let Some(addr) = var("GATEHOUSE_LISTEN").or_else(|| var("LEPTOS_SITE_ADDR")) {
            config.listen = parse(&addr, "GATEHOUSE_LISTEN")?;
        }
        if let Some(dir) = var("GATEHOUSE_DATA_DIR") {
            config.data_dir = PathBuf::from(dir);
        }
        if let Some(url) = var("GATEHOUSE_DATABASE_URL").or_else(|| var("MONGODB_URI")) {
            if !crate::store::mongo::is_mongodb_url(&url) {
                return Err(invalid(
                    "GATEHOUSE_DATABASE_URL",
                    "expected mongodb://… or mongodb+srv://… (leave it unset for the embedded store)",
                ));
            }
            config.database_url = Some(url);
        }
        if let Some(name) = var("GATEHOUSE_DATABASE_NAME") {
            config.database_name = Some(name);
        }
        if let Some(issuer) = var("GATEHOUSE_ISSUER") {
            config.issuer = issuer;
        }
        if let Some(secs) = var("GATEHOUSE_ACCESS_TTL_SECS") {
            config.access_ttl = seconds(&secs, "GATEHOUSE_ACCESS_TTL_SECS")?;
        }
        if let Some(secs) = var("GATEHOUSE_REFRESH_TTL_SECS") {
            config.refresh_ttl = seconds(&secs, "GATEHOUSE_REFRESH_TTL_SECS")?;
        }
        if let Some(secs) = var("GATEHOUSE_REFRESH_GRACE_SECS") {
            config.refresh_grace =
                Duration::from_secs(parse(&secs, "GATEHOUSE_REFRESH_GRACE_SECS")?);
            if config.refresh_grace > Duration::from_secs(60) {
                return Err(invalid(
                    "GATEHOUSE_REFRESH_GRACE_SECS",
                    "at most 60: a longer grace lets a stolen token ride along for longer",
                ));
            }
        }
        if config.refresh_ttl <= config.access_ttl {
            return Err(invalid(
                "GATEHOUSE_REFRESH_TTL_SECS",
                "must be longer than the access token lifetime",
            ));
        }
        if let Some(path) = var("GATEHOUSE_PROVIDERS") {
            config.providers = providers::read_providers_file(std::path::Path::new(&path))?;
        }
        if let Some(secret) = var("GATEHOUSE_JWT_SECRET") {
            config.signing = SigningConfig::Hs256 {
                secret: check_secret(secret)?,
            };
        }
        if let Some(m) = var("GATEHOUSE_ARGON2_M_KIB") {
            config.hash_params.m_cost_kib = parse(&m, "GATEHOUSE_ARGON2_M_KIB")?;
        }
        if let Some(t) = var("GATEHOUSE_ARGON2_T") {
            config.hash_params.t_cost = parse(&t, "GATEHOUSE_ARGON2_T")?;
        }
        if let Some(p) = var("GATEHOUSE_ARGON2_P") {
            config.hash_params.p_cost = parse(&p, "GATEHOUSE_ARGON2_P")?;
        }
        config
            .hash_params
            .validate()
            .map_err(|message| invalid("GATEHOUSE_ARGON2_*", &message))?;
        if let Some(n) = var("GATEHOUSE_MAX_CONCURRENT_HASHES") {
            config.max_concurrent_hashes = parse(&n, "GATEHOUSE_MAX_CONCURRENT_HASHES")?;
            if config.max_concurrent_hashes == 0 {
                return Err(invalid(
                    "GATEHOUSE_MAX_CONCURRENT_HASHES",
                    "must be at least 1",
                ));
            }
        }
        if let Some(n) = var("GATEHOUSE_MAX_QUEUED_HASHES") {
            config.max_queued_hashes = parse(&n, "GATEHOUSE_MAX_QUEUED_HASHES")?;
            if config.max_queued_hashes == 0 {
                return Err(invalid("GATEHOUSE_MAX_QUEUED_HASHES", "must be at least 1"));
            }
        }
        let throttle = &mut config.throttle;
        if let Some(n) = var("GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT") {
            throttle.login_failures_per_account =
                parse(&n, "GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT")?;
        }
        if let Some(n) = var("GATEHOUSE_LOGIN_FAILURE_CAP") {
            throttle.login_failure_cap = parse(&n, "GATEHOUSE_LOGIN_FAILURE_CAP")?;
        }
        if let Some(n) = var("GATEHOUSE_LOGIN_FAILURES_PER_IP") {
            throttle.login_failures_per_ip = parse(&n, "GATEHOUSE_LOGIN_FAILURES_PER_IP")?;
        }
        if let Some(n) = var("GATEHOUSE_SIGNUPS_PER_IP") {
            throttle.signups_per_ip = parse(&n, "GATEHOUSE_SIGNUPS_PER_IP")?;
        }
        if let Some(n) = var("GATEHOUSE_REFRESHES_PER_IP") {
            throttle.refreshes_per_ip = parse(&n, "GATEHOUSE_REFRESHES_PER_IP")?;
        }
        if let Some(n) = var("GATEHOUSE_RECOVERY_REQUESTS_PER_IP") {
            throttle.recovery_requests_per_ip = parse(&n, "GATEHOUSE_RECOVERY_REQUESTS_PER_IP")?;
        }
        if let Some(n) = var("GATEHOUSE_MAILS_PER_ACCOUNT") {
            throttle.mails_per_account = parse(&n, "GATEHOUSE_MAILS_PER_ACCOUNT")?;
        }
        if let Some(secs) = var("GATEHOUSE_THROTTLE_WINDOW_SECS") {
            throttle.window = seconds(&secs, "GATEHOUSE_THROTTLE_WINDOW_SECS")?;
        }
        if let Some(ms) = var("GATEHOUSE_REVOCATION_BOUND_MS") {
            config.revocation_bound =
                Duration::from_millis(parse(&ms, "GATEHOUSE_REVOCATION_BOUND_MS")?);
            if config.revocation_bound > MAX_REVOCATION_BOUND {
                return Err(invalid(
                    "GATEHOUSE_REVOCATION_BOUND_MS",
                    "at most 60000: longer lets a revoked token pass for longer",
                ));
            }
        }
        if var("GATEHOUSE_TRUST_FORWARDED_FOR").is_some() {
            // It trusted the left-most entry, which the client writes: refusing to start
            // is kinder than silently counting every client as one.
            return Err(invalid(
                "GATEHOUSE_TRUST_FORWARDED_FOR",
                "is replaced by GATEHOUSE_TRUSTED_PROXIES: list your proxies' addresses (CIDRs)",
            ));
        }
        if let Some(list) = var("GATEHOUSE_TRUSTED_PROXIES") {
            config.trusted_proxies = TrustedProxies::parse(&list)
                .map_err(|message| invalid("GATEHOUSE_TRUSTED_PROXIES", &message))?;
        }
        if let Some(days) = var("GATEHOUSE_AUDIT_RETENTION_DAYS") {
            let days: u64 = parse(&days, "GATEHOUSE_AUDIT_RETENTION_DAYS")?;
            if days == 0 {
                return Err(invalid(
                    "GATEHOUSE_AUDIT_RETENTION_DAYS",
                    "must be at least 1 day",
                ));
            }
            config.audit_retention = Duration::from_secs(days.saturating_mul(24 * 3600));
        }
        if let Some(secs) = var("GATEHOUSE_REAUTH_SECS") {
            let secs: u64 = parse(&secs, "GATEHOUSE_REAUTH_SECS")?;
            // A ceremony's two halves (a passkey's start and finish, an app's set-up and
            // its first code) must fit in the window.
            if secs < 60 {
                return Err(invalid(
                    "GATEHOUSE_REAUTH_SECS",
                    "must be at least 60 seconds",
                ));
            }
            config.reauth_window = Duration::from_secs(secs);
        }
        if let Some(value) = var("GATEHOUSE_ADMIN_SIGN_IN") {
            config.admin_sign_in = AdminSignIn::parse(&value).ok_or_else(|| {
                invalid("GATEHOUSE_ADMIN_SIGN_IN", "use any, second_step or passkey")
            })?;
        }
        if let Some(token) = var("GATEHOUSE_METRICS_TOKEN") {
            if token.len() < 16 {
                return Err(invalid(
                    "GATEHOUSE_METRICS_TOKEN",
                    "use at least 16 characters (a random string)",
                ));
            }
            config.metrics_token = Some(token);
        }
        if let Some(keys) = var("GATEHOUSE_FACTOR_KEYS") {
            if let Err(error) = crate::auth::sealing::FactorKeys::parse(&keys) {
                return Err(ConfigError::Invalid {
                    name: "GATEHOUSE_FACTOR_KEYS",
                    message: error.to_string(),
                });
            }
            config.factor_keys = Some(keys);
        }
        if let Some(origin) = var("GATEHOUSE_PASSKEY_ORIGIN") {
            if let Err(message) = crate::auth::passkey_relying_party(&origin) {
                return Err(ConfigError::Invalid {
                    name: "GATEHOUSE_PASSKEY_ORIGIN",
                    message,
                });
            }
            config.passkey_origin = Some(origin);
        }
        if let Some(flag) = var("GATEHOUSE_HTTPS") {
            config.https = boolean(&flag, "GATEHOUSE_HTTPS")?;
        }
        if let Some(format) = var("GATEHOUSE_LOG_FORMAT") {
            config.log_json = match format.as_str() {
                "json" => true,
                "text" => false,
                _ => return Err(invalid("GATEHOUSE_LOG_FORMAT", "expected `json` or `text`")),
            };
        }
        read_mail_config(&mut config.mail, &var)?;
        let public_host = config
            .mail
            .public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        forward::read_forward_config(&mut config.forward, &var, public_host.as_deref())?;
        match (
            var("GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME"),
            var("GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD"),
        ) {
            (Some(user), Some(password)) => config.bootstrap_admin = Some((user, password)),
            (None, None) => {}
            _ => {
                return Err(invalid(
                    "GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME",
                    "set both the bootstrap admin username and password, or neither",
                ));
            }
        }
        Ok(config)
    }
}
