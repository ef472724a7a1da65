//! Signing keys: generated on first start, kept in the store, published as JWKS.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use sha2::{Digest, Sha256};

/// A freshly generated Ed25519 key pair, as the store keeps it.
pub struct Ed25519KeyMaterial {
    pub kid: String,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8: Vec<u8>,
    /// The raw 32-byte public key.
    pub public_raw: Vec<u8>,
}

impl std::fmt::Debug for Ed25519KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519KeyMaterial")
            .field("kid", &self.kid)
            .field("private_pkcs8", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the system random generator failed: {0}")]
    Random(String),
    #[error("the signing key is invalid: {0}")]
    Invalid(String),
}

impl Ed25519KeyMaterial {
    pub fn generate() -> Result<Ed25519KeyMaterial, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let signing = SigningKey::from_bytes(&seed);
        let private_pkcs8 = signing
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?
            .as_bytes()
            .to_vec();
        let public_raw = signing.verifying_key().to_bytes().to_vec();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public_raw)[..12]);
        Ok(Ed25519KeyMaterial {
            kid,
            private_pkcs8,
            public_raw,
        })
    }
}

/// A random identifier (128 bits, base64url) for `jti`.
pub fn random_id() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
