//! The keys that sign OpenID Connect ID tokens, which relying parties verify with the
//! public key the JWKS publishes: RS256 by default, ES256 or EdDSA for a client that
//! registered it.
//!
//! `ring` signs (constant-time, linked already by rustls) and generates the ES256 and
//! Ed25519 keys; the `rsa` crate only generates RSA key pairs (ring cannot), once per
//! rotation. jsonwebtoken's own RS256 would sign with `rsa`, whose private-key operations
//! leak timing (RUSTSEC-2023-0071), hence the few lines of JWS assembly here instead of
//! `jsonwebtoken::encode`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use rsa::{
    RsaPrivateKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
    traits::PublicKeyParts,
};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use super::keys::KeyError;
use crate::domain::oidc::IdTokenAlgorithm;

/// The modulus size of generated RSA keys: the common floor relying parties expect.
const RSA_BITS: usize = 2048;

/// A freshly generated key pair, as the store keeps it (PKCS#8 DER).
pub struct IdTokenKeyMaterial {
    pub kid: String,
    pub private_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for IdTokenKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenKeyMaterial")
            .field("kid", &self.kid)
            .field("private_pkcs8", &"[redacted]")
            .finish()
    }
}

impl IdTokenKeyMaterial {
    /// RSA generation takes a moment (run it off the async threads); the others do not.
    pub fn generate(algorithm: IdTokenAlgorithm) -> Result<IdTokenKeyMaterial, KeyError> {
        let rng = SystemRandom::new();
        let random_failed = |_| KeyError::Random("ring could not generate a key".into());
        let private_pkcs8 = match algorithm {
            IdTokenAlgorithm::Rs256 => {
                let private = RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
                    .map_err(|e| KeyError::Random(e.to_string()))?;
                private
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::Invalid(e.to_string()))?
                    .as_bytes()
                    .to_vec()
            }
            IdTokenAlgorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(random_failed)?
                    .as_ref()
                    .to_vec()
            }
            IdTokenAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(random_failed)?
                .as_ref()
                .to_vec(),
        };
        // The key id names the public key, so every instance names a key alike.
        let signer = IdTokenSigner::from_pkcs8(algorithm, "", &private_pkcs8)?;
        Ok(IdTokenKeyMaterial {
            kid: signer.public_kid(),
            private_pkcs8,
        })
    }
}

enum KeyKind {
    Rsa(ring::signature::RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Signs with one key and describes its public half as a JWK.
pub struct IdTokenSigner {
    kid: String,
    algorithm: IdTokenAlgorithm,
    key: KeyKind,
    rng: SystemRandom,
    jwk: serde_json::Value,
}

impl IdTokenSigner {
    pub fn from_pkcs8(
        algorithm: IdTokenAlgorithm,
        kid: &str,
        private_pkcs8: &[u8],
    ) -> Result<IdTokenSigner, KeyError> {
        let invalid = |e: &dyn std::fmt::Display| KeyError::Invalid(e.to_string());
        let rng = SystemRandom::new();
        let (key, mut jwk) = match algorithm {
            IdTokenAlgorithm::Rs256 => {
                let key_pair = ring::signature::RsaKeyPair::from_pkcs8(private_pkcs8)
                    .map_err(|e| invalid(&e))?;
                let private =
                    RsaPrivateKey::from_pkcs8_der(private_pkcs8).map_err(|e| invalid(&e))?;
                let jwk = serde_json::json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
                });
                (KeyKind::Rsa(key_pair), jwk)
            }
            IdTokenAlgorithm::Es256 => {
                let key_pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private_pkcs8, &rng)
                        .map_err(|e| invalid(&e))?;
                // An uncompressed point: 0x04, then x and y, 32 bytes each.
                let point = key_pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(KeyError::Invalid("a P-256 point is 65 bytes".into()));
                }
                let jwk = serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..]),
                });
                (KeyKind::Ecdsa(key_pair), jwk)
            }
            IdTokenAlgorithm::EdDsa => {
                let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(private_pkcs8)
                    .map_err(|e| invalid(&e))?;
                let jwk = serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(key_pair.public_key().as_ref()),
                });
                (KeyKind::Ed25519(key_pair), jwk)
            }
        };
        jwk["kid"] = kid.into();
        jwk["alg"] = algorithm.name().into();
        jwk["use"] = "sig".into();
        Ok(IdTokenSigner {
            kid: kid.to_owned(),
            algorithm,
            key,
            rng,
            jwk,
        })
    }

    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> IdTokenAlgorithm {
        self.algorithm
    }

    /// A digest of the public key: the key id, with the algorithm's prefix.
    fn public_kid(&self) -> String {
        let (prefix, public) = match &self.key {
            KeyKind::Rsa(key) => ("rs", key.public().as_ref()),
            KeyKind::Ecdsa(key) => ("es", key.public_key().as_ref()),
            KeyKind::Ed25519(key) => ("ed", key.public_key().as_ref()),
        };
        let digest = Sha256::digest(public);
        format!("{prefix}-{}", URL_SAFE_NO_PAD.encode(&digest[..12]))
    }

    /// A compact JWS (this key's algorithm and `kid`) of `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let header =
            serde_json::json!({"alg": self.algorithm.name(), "typ": "JWT", "kid": self.kid});
        let mut message = encoded_part(&header)?;
        message.push('.');
        message.push_str(&encoded_part(claims)?);
        let failed = |_| KeyError::Invalid("signing failed".into());
        let signature = match &self.key {
            KeyKind::Rsa(key) => {
                let mut signature = vec![0u8; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    message.as_bytes(),
                    &mut signature,
                )
                .map_err(failed)?;
                signature
            }
            KeyKind::Ecdsa(key) => key
                .sign(&self.rng, message.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            KeyKind::Ed25519(key) => key.sign(message.as_bytes()).as_ref().to_vec(),
        };
        message.push('.');
        message.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(message)
    }

    /// The claims of a token this key signed (signature only: the caller checks the
    /// rest); `None` for anything else.
    pub fn verified_claims(
        &self,
        token: &str,
        validation: &jsonwebtoken::Validation,
    ) -> Option<serde_json::Value> {
        let text = |name: &str| self.jwk[name].as_str();
        let key = match self.algorithm {
            IdTokenAlgorithm::Rs256 => {
                jsonwebtoken::DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?
            }
            IdTokenAlgorithm::Es256 => {
                jsonwebtoken::DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?
            }
            IdTokenAlgorithm::EdDsa => {
                jsonwebtoken::DecodingKey::from_ed_components(text("x")?).ok()?
            }
        };
        let mut validation = validation.clone();
        validation.algorithms = vec![match self.algorithm {
            IdTokenAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            IdTokenAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            IdTokenAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }];
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// `at_hash` (and `c_hash`) for this key's algorithm: the left half of the digest
    /// the algorithm's signature uses (SHA-256 for RS256 and ES256, SHA-512 for
    /// Ed25519), base64url.
    pub fn token_hash(&self, value: &str) -> String {
        match self.algorithm {
            IdTokenAlgorithm::Rs256 | IdTokenAlgorithm::Es256 => left_half_hash(value),
            IdTokenAlgorithm::EdDsa => {
                let digest = Sha512::digest(value.as_bytes());
                URL_SAFE_NO_PAD.encode(&digest[..32])
            }
        }
    }
}

/// Half of a SHA-256 digest, base64url: `at_hash` for RS256 and ES256.
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
    use jsonwebtoken::Validation;

    #[test]
    fn a_token_of_each_algorithm_verifies_with_its_published_key_and_fails_when_altered() {
        for algorithm in IdTokenAlgorithm::ALL {
            let material = IdTokenKeyMaterial::generate(algorithm).unwrap();
            let signer =
                IdTokenSigner::from_pkcs8(algorithm, &material.kid, &material.private_pkcs8)
                    .unwrap();
            assert_eq!(signer.jwk()["alg"], algorithm.name());
            let token = signer
                .sign(&serde_json::json!({"sub": "u1", "aud": "c1"}))
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(material.kid.as_str()));
            let mut validation = Validation::default();
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            validation.set_audience(&["c1"]);
            let claims = signer.verified_claims(&token, &validation).unwrap();
            assert_eq!(claims["sub"], "u1", "{}", algorithm.name());

            let (head, rest) = token.split_once('.').unwrap();
            let (_, signature) = rest.split_once('.').unwrap();
            let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","aud":"c1"}"#);
            let forged = format!("{head}.{forged_claims}.{signature}");
            assert!(signer.verified_claims(&forged, &validation).is_none());
            // Another key of the same kind does not verify it.
            let other = IdTokenKeyMaterial::generate(algorithm).unwrap();
            let other =
                IdTokenSigner::from_pkcs8(algorithm, &other.kid, &other.private_pkcs8).unwrap();
            assert!(other.verified_claims(&token, &validation).is_none());
        }
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
