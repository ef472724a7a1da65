//! `Config::from_lookup`, variable by variable.

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

#[test]
fn the_reauthentication_window_is_set_in_seconds_and_fits_a_ceremony() {
    assert_eq!(Config::defaults().reauth_window, Duration::from_secs(300));
    let config = config_from(&[("GATEHOUSE_REAUTH_SECS", "60")]).unwrap();
    assert_eq!(config.reauth_window, Duration::from_secs(60));
    assert!(config_from(&[("GATEHOUSE_REAUTH_SECS", "59")]).is_err());
    assert!(config_from(&[("GATEHOUSE_REAUTH_SECS", "five minutes")]).is_err());
}

#[test]
fn the_audit_retention_is_set_in_days() {
    assert_eq!(
        Config::defaults().audit_retention,
        Duration::from_secs(180 * 24 * 3600)
    );
    let config = config_from(&[("GATEHOUSE_AUDIT_RETENTION_DAYS", "30")]).unwrap();
    assert_eq!(config.audit_retention, Duration::from_secs(30 * 24 * 3600));
    assert!(config_from(&[("GATEHOUSE_AUDIT_RETENTION_DAYS", "0")]).is_err());
}

#[test]
fn debug_output_redacts_every_secret() {
    let mut config = Config::defaults();
    config.database_url = Some("mongodb://gh:database-secret@db.example/".into());
    config.bootstrap_admin = Some(("root".into(), "bootstrap-secret".into()));
    config.metrics_token = Some("metrics-secret".into());
    config.factor_keys = Some("k1:factor-secret".into());
    config.signing = SigningConfig::Hs256 {
        secret: b"signing-secret-signing-secret-32".to_vec(),
    };
    let printed = format!("{config:?}");
    for secret in [
        "database-secret",
        "bootstrap-secret",
        "metrics-secret",
        "factor-secret",
        "signing-secret",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("root"));
}

#[test]
fn what_an_admin_must_sign_in_with_is_one_of_three_names() {
    assert_eq!(Config::defaults().admin_sign_in, AdminSignIn::Any);
    for name in ["any", "second_step", "passkey"] {
        let config = config_from(&[("GATEHOUSE_ADMIN_SIGN_IN", name)]).unwrap();
        assert_eq!(config.admin_sign_in.as_str(), name);
    }
    assert!(config_from(&[("GATEHOUSE_ADMIN_SIGN_IN", "Passkey")]).is_err());
    assert!(config_from(&[("GATEHOUSE_ADMIN_SIGN_IN", "mfa")]).is_err());
}
