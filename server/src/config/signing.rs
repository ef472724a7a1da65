//! How access tokens are signed, and the refusal of a secret nobody should sign with.

use super::{ConfigError, values::invalid};

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

pub(super) fn check_secret(secret: String) -> Result<Vec<u8>, ConfigError> {
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
