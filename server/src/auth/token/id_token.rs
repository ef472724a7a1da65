//! RS256 signing for OpenID Connect: ID tokens, which relying parties verify with the
//! public key the JWKS publishes. RS256 because OpenID Connect Core requires it and many
//! relying parties accept nothing else.
//!
//! `ring` signs (constant-time RSA, linked already by rustls); the `rsa` crate only
//! generates the key pair, once per store. jsonwebtoken's own RS256 would sign with
//! `rsa`, whose private-key operations leak timing (RUSTSEC-2023-0071), hence the few
//! lines of JWS assembly here instead of `jsonwebtoken::encode`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rsa::{
    RsaPrivateKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
    traits::PublicKeyParts,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::keys::KeyError;

/// The modulus size of generated keys: the common floor relying parties expect.
const RSA_BITS: usize = 2048;

/// A freshly generated RSA key pair, as the store keeps it (PKCS#8 DER).
pub struct RsaKeyMaterial {
    pub kid: String,
    pub private_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for RsaKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeyMaterial")
            .field("kid", &self.kid)
            .field("private_pkcs8", &"[redacted]")
            .finish()
    }
}

impl RsaKeyMaterial {
    pub fn generate() -> Result<RsaKeyMaterial, KeyError> {
        let private = RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        let private_pkcs8 = private
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?
            .as_bytes()
            .to_vec();
        let kid = kid_of(&private);
        Ok(RsaKeyMaterial { kid, private_pkcs8 })
    }
}

/// The key id: a digest of the public modulus, so every instance names a key alike.
fn kid_of(private: &RsaPrivateKey) -> String {
    let digest = Sha256::digest(private.n().to_bytes_be());
    format!("rs-{}", URL_SAFE_NO_PAD.encode(&digest[..12]))
}

/// Signs with one RSA key and describes its public half as a JWK.
pub struct IdTokenSigner {
    kid: String,
    key_pair: ring::signature::RsaKeyPair,
    rng: ring::rand::SystemRandom,
    jwk: serde_json::Value,
}

impl IdTokenSigner {
    pub fn from_pkcs8(kid: &str, private_pkcs8: &[u8]) -> Result<IdTokenSigner, KeyError> {
        let key_pair = ring::signature::RsaKeyPair::from_pkcs8(private_pkcs8)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let private = RsaPrivateKey::from_pkcs8_der(private_pkcs8)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
            "kid": kid,
            "alg": "RS256",
            "use": "sig",
        });
        Ok(IdTokenSigner {
            kid: kid.to_owned(),
            key_pair,
            rng: ring::rand::SystemRandom::new(),
            jwk,
        })
    }

    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A compact JWS (RS256, this key's `kid`) of `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let mut message = encoded_part(&header)?;
        message.push('.');
        message.push_str(&encoded_part(claims)?);
        let mut signature = vec![0u8; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Invalid("RSA signing failed".into()))?;
        message.push('.');
        message.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(message)
    }
}

/// Half of a SHA-256 digest, base64url: `at_hash` (and `c_hash`) for RS256.
pub fn left_half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn encoded_part<T: Serialize>(value: &T) -> Result<String, KeyError> {
    let json = serde_json::to_vec(value).map_err(|e| KeyError::Invalid(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    #[test]
    fn a_signed_token_verifies_with_the_published_key_and_fails_when_altered() {
        let material = RsaKeyMaterial::generate().unwrap();
        let signer = IdTokenSigner::from_pkcs8(&material.kid, &material.private_pkcs8).unwrap();
        let token = signer
            .sign(&serde_json::json!({"sub": "u1", "aud": "c1"}))
            .unwrap();
        let jwk = signer.jwk();
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_audience(&["c1"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["sub"], "u1");
        assert_eq!(decoded.header.kid.as_deref(), Some(material.kid.as_str()));

        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","aud":"c1"}"#);
        let forged = format!("{head}.{forged_claims}.{signature}");
        assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_sha256_digest() {
        // OpenID Connect Core's example access token and its at_hash (A.3).
        assert_eq!(
            left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
