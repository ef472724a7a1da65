//! Configuration comes from the environment; every setting has a default that works on a
//! fresh machine, except secrets, which have none.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::auth::password::HashParams;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// How access tokens are signed.
#[derive(Clone)]
pub enum SigningConfig {
    /// Ed25519; the key is generated on first start and kept in the store.
    EdDsa,
    /// HMAC-SHA256 with a shared secret of at least 32 bytes.
    Hs256 { secret: Vec<u8> },
}

impl std::fmt::Debug for SigningConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningConfig::EdDsa => f.write_str("EdDsa"),
            SigningConfig::Hs256 { .. } => f.write_str("Hs256 { secret: [redacted] }"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Failed logins for one account before it is slowed down.
    pub login_failures_per_account: u32,
    /// Failed logins from one client address before it is slowed down.
    pub login_failures_per_ip: u32,
    /// The first lockout; each further failure doubles it, up to `max_lockout`.
    pub base_lockout: Duration,
    pub max_lockout: Duration,
    /// Sign-ups allowed per client address per `window`.
    pub signups_per_ip: u32,
    /// Refreshes allowed per client address per `window`.
    pub refreshes_per_ip: u32,
    /// "Forgot password" requests per client address per `window`.
    pub recovery_requests_per_ip: u32,
    /// Mails (reset and verification) per account, and reset requests per name or
    /// address asked for, per `window`: nobody's inbox can be flooded.
    pub mails_per_account: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            base_lockout: Duration::from_secs(2),
            max_lockout: Duration::from_secs(15 * 60),
            signups_per_ip: 20,
            refreshes_per_ip: 600,
            recovery_requests_per_ip: 20,
            mails_per_account: 5,
            window: Duration::from_secs(10 * 60),
        }
    }
}

/// An SMTP server as a URL: `smtps://user:pass@host:465` (implicit TLS),
/// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtp://127.0.0.1:2525` (plain, for
/// a relay on loopback). Its credentials never print.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn new(url: impl Into<String>) -> Self {
        SmtpUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl([redacted])")
    }
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// Unset (the default): every mail is written as an `.eml` file to `outbox_dir`.
    pub smtp: Option<SmtpUrl>,
    /// `Name <address>` or a bare address.
    pub from: String,
    /// Defaults to `outbox` under the data directory.
    pub outbox_dir: Option<PathBuf>,
    /// Links in mails start with this (scheme, host, port); never taken from a request's
    /// `Host`. Unset: `http://` and the address the server listens on.
    pub public_url: Option<String>,
    pub reset_link_ttl: Duration,
    pub verify_link_ttl: Duration,
    /// Refuse to sign in accounts without a verified address (admins excepted, so an
    /// operator can never lock everyone out).
    pub require_verified_email: bool,
    /// Send reset links only to verified addresses (the default): an address nobody
    /// proved could be a typo, or someone else's.
    pub reset_needs_verified_email: bool,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp: None,
            from: "Gatehouse <gatehouse@localhost>".to_owned(),
            outbox_dir: None,
            public_url: None,
            reset_link_ttl: Duration::from_secs(30 * 60),
            verify_link_ttl: Duration::from_secs(24 * 60 * 60),
            require_verified_email: false,
            reset_needs_verified_email: true,
        }
    }
}

#[derive(Clone, Debug)]
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
    /// Trust the left-most `X-Forwarded-For` address: only behind a proxy you run.
    pub trust_forwarded_for: bool,
    /// Served over HTTPS: adds HSTS and `Secure` cookies.
    pub https: bool,
    pub log_json: bool,
    /// Created on first start when no admin exists yet.
    pub bootstrap_admin: Option<(String, String)>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    pub mail: MailConfig,
    /// The keys second-factor secrets are sealed with (`id:base64,…`, the first seals);
    /// unset: the `factor-keys` file in the data directory, made on first start.
    pub factor_keys: Option<String>,
    /// The origin passkeys belong to (their relying party); unset: the public URL.
    pub passkey_origin: Option<String>,
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
            trust_forwarded_for: false,
            https: false,
            metrics_token: None,
            log_json: false,
            bootstrap_admin: None,
            mail: MailConfig::default(),
            factor_keys: None,
            passkey_origin: None,
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
        if let Some(flag) = var("GATEHOUSE_TRUST_FORWARDED_FOR") {
            config.trust_forwarded_for = boolean(&flag, "GATEHOUSE_TRUST_FORWARDED_FOR")?;
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

fn read_mail_config(
    mail: &mut MailConfig,
    var: &impl Fn(&'static str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(url) = var("GATEHOUSE_SMTP_URL") {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("smtp" | "smtps")) {
            return Err(invalid(
                "GATEHOUSE_SMTP_URL",
                "expected smtp://… or smtps://… (leave it unset to write mails to the outbox)",
            ));
        }
        mail.smtp = Some(SmtpUrl(url));
    }
    if let Some(from) = var("GATEHOUSE_MAIL_FROM") {
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "GATEHOUSE_MAIL_FROM",
                "expected an address, or `Name <address>`",
            ));
        }
        mail.from = from;
    }
    if let Some(dir) = var("GATEHOUSE_OUTBOX_DIR") {
        mail.outbox_dir = Some(PathBuf::from(dir));
    }
    if let Some(url) = var("GATEHOUSE_PUBLIC_URL") {
        let url = url.trim().trim_end_matches('/').to_owned();
        let valid = url
            .parse::<axum::http::Uri>()
            .ok()
            .filter(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some()
                    && uri.path_and_query().is_none_or(|path| path.as_str() == "/")
            })
            .is_some();
        if !valid {
            return Err(invalid(
                "GATEHOUSE_PUBLIC_URL",
                "expected the site's origin, such as https://auth.example.org (no path)",
            ));
        }
        mail.public_url = Some(url);
    }
    if let Some(secs) = var("GATEHOUSE_RESET_LINK_TTL_SECS") {
        mail.reset_link_ttl = seconds(&secs, "GATEHOUSE_RESET_LINK_TTL_SECS")?;
    }
    if let Some(secs) = var("GATEHOUSE_VERIFY_LINK_TTL_SECS") {
        mail.verify_link_ttl = seconds(&secs, "GATEHOUSE_VERIFY_LINK_TTL_SECS")?;
    }
    if let Some(flag) = var("GATEHOUSE_REQUIRE_VERIFIED_EMAIL") {
        mail.require_verified_email = boolean(&flag, "GATEHOUSE_REQUIRE_VERIFIED_EMAIL")?;
    }
    if let Some(flag) = var("GATEHOUSE_RESET_NEEDS_VERIFIED_EMAIL") {
        mail.reset_needs_verified_email = boolean(&flag, "GATEHOUSE_RESET_NEEDS_VERIFIED_EMAIL")?;
    }
    Ok(())
}

/// Secrets people paste from tutorials; a server signing with one is forgeable by anyone.
const PLACEHOLDER_SECRETS: &[&str] = &[
    "secret",
    "changeme",
    "change-me",
    "your-secret-key",
    "your_secret_key",
    "super-secret",
    "supersecret",
    "jwt-secret",
    "jwt_secret_key",
    "mysecret",
];

fn check_secret(secret: String) -> Result<Vec<u8>, ConfigError> {
    let lowered = secret.to_lowercase();
    if PLACEHOLDER_SECRETS
        .iter()
        .any(|placeholder| lowered.contains(placeholder))
    {
        return Err(invalid(
            "GATEHOUSE_JWT_SECRET",
            "looks like a placeholder; generate one with `openssl rand -base64 48`",
        ));
    }
    if secret.len() < 32 {
        return Err(invalid(
            "GATEHOUSE_JWT_SECRET",
            "must be at least 32 bytes long",
        ));
    }
    Ok(secret.into_bytes())
}

fn invalid(name: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_owned(),
    }
}

const MAX_REVOCATION_BOUND: Duration = Duration::from_secs(60);

fn parse<T: std::str::FromStr>(value: &str, name: &'static str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error: T::Err| invalid(name, &format!("`{value}`: {error}")))
}

fn seconds(value: &str, name: &'static str) -> Result<Duration, ConfigError> {
    let secs: u64 = parse(value, name)?;
    if secs == 0 {
        return Err(invalid(name, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

fn boolean(value: &str, name: &'static str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_work_without_any_variable() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.access_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_ttl, Duration::from_secs(604_800));
        assert!(matches!(config.signing, SigningConfig::EdDsa));
    }

    #[test]
    fn mail_settings_are_checked_and_the_smtp_credentials_never_print() {
        let config = config_from(&[
            (
                "GATEHOUSE_SMTP_URL",
                "smtps://mailer:hunter2@smtp.example.org",
            ),
            ("GATEHOUSE_PUBLIC_URL", "https://auth.example.org/"),
            ("GATEHOUSE_MAIL_FROM", "Auth <auth@example.org>"),
        ])
        .unwrap();
        assert_eq!(
            config.mail.public_url.as_deref(),
            Some("https://auth.example.org")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(config.mail.reset_needs_verified_email);
        assert_eq!(config.outbox_dir(), PathBuf::from("data/outbox"));
        for (name, bad) in [
            ("GATEHOUSE_SMTP_URL", "http://smtp.example.org"),
            ("GATEHOUSE_PUBLIC_URL", "auth.example.org"),
            ("GATEHOUSE_PUBLIC_URL", "https://auth.example.org/reset?x=1"),
            ("GATEHOUSE_MAIL_FROM", "not an address"),
            ("GATEHOUSE_RESET_LINK_TTL_SECS", "0"),
        ] {
            assert!(
                config_from(&[(name, bad)]).is_err(),
                "{name}={bad} accepted"
            );
        }
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        assert!(config_from(&[("GATEHOUSE_JWT_SECRET", "0123456789abcdef")]).is_err());
    }

    #[test]
    fn a_placeholder_jwt_secret_is_refused_even_when_long() {
        let secret = "your-secret-key-please-change-me-0123456789";
        assert!(config_from(&[("GATEHOUSE_JWT_SECRET", secret)]).is_err());
    }

    #[test]
    fn a_long_random_jwt_secret_selects_hs256() {
        let secret = "Zq3vN8rT1xW6yB4mK0pL7sD2fH9jA5cE";
        let config = config_from(&[("GATEHOUSE_JWT_SECRET", secret)]).unwrap();
        assert!(matches!(config.signing, SigningConfig::Hs256 { .. }));
    }

    #[test]
    fn a_mongodb_url_selects_mongodb_and_anything_else_is_refused() {
        let config = config_from(&[("MONGODB_URI", "mongodb://db:27017/gatehouse")]).unwrap();
        assert_eq!(
            config.database_url.as_deref(),
            Some("mongodb://db:27017/gatehouse")
        );
        assert!(config_from(&[("GATEHOUSE_DATABASE_URL", "postgres://db/x")]).is_err());
        assert!(config_from(&[]).unwrap().database_url.is_none());
    }

    #[test]
    fn half_a_bootstrap_admin_is_an_error() {
        assert!(config_from(&[("GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME", "root")]).is_err());
    }

    #[test]
    fn a_metrics_token_must_be_long_enough_to_be_a_secret() {
        assert!(config_from(&[("GATEHOUSE_METRICS_TOKEN", "short")]).is_err());
        let config = config_from(&[("GATEHOUSE_METRICS_TOKEN", "0123456789abcdef")]).unwrap();
        assert_eq!(config.metrics_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn the_refresh_grace_is_configurable_and_bounded() {
        assert_eq!(
            config_from(&[]).unwrap().refresh_grace,
            Duration::from_secs(5)
        );
        let off = config_from(&[("GATEHOUSE_REFRESH_GRACE_SECS", "0")]).unwrap();
        assert_eq!(off.refresh_grace, Duration::ZERO);
        assert!(config_from(&[("GATEHOUSE_REFRESH_GRACE_SECS", "61")]).is_err());
    }

    #[test]
    fn refresh_must_outlive_access() {
        assert!(
            config_from(&[
                ("GATEHOUSE_ACCESS_TTL_SECS", "600"),
                ("GATEHOUSE_REFRESH_TTL_SECS", "60")
            ])
            .is_err()
        );
    }
}
