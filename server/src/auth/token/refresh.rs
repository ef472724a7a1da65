//! Refresh tokens: opaque, random, handed to the client once; only their hash is kept.
//!
//! A session's first token is random. Each successor is derived from the token it
//! replaces with a server-side key (HMAC-SHA256), so every request that presents the
//! same token — three tabs restoring at once, a retry after a lost response — computes
//! the same successor, and the store can hand it out again within the grace period
//! without ever keeping a usable token. The key lives in the store, shared by every
//! instance; without it a successor cannot be guessed from the token it replaces.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::KeyError;
use crate::domain::{CLIENT_REFRESH_PREFIX, REFRESH_PREFIX, RefreshHash};

const REFRESH_RANDOM_BYTES: usize = 32;

/// A refresh token as handed to the client once; only its hash is ever stored.
pub struct RefreshSecret(String);

impl RefreshSecret {
    pub fn generate() -> Result<RefreshSecret, KeyError> {
        Ok(RefreshSecret(random_token(REFRESH_PREFIX)?))
    }

    /// The first refresh token of an app's session (OpenID Connect).
    pub fn generate_for_client() -> Result<RefreshSecret, KeyError> {
        Ok(RefreshSecret(random_token(CLIENT_REFRESH_PREFIX)?))
    }

    fn from_bytes(prefix: &str, bytes: &[u8]) -> RefreshSecret {
        RefreshSecret(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> RefreshHash {
        RefreshHash::of_issued(&self.0)
    }
}

/// `prefix` and 256 random bits in unpadded base64url: every opaque token the server
/// hands out (refresh tokens, mailed links) is made here.
pub fn random_token(prefix: &str) -> Result<String, KeyError> {
    let mut bytes = [0u8; REFRESH_RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecret([redacted])")
    }
}

/// The key successors are derived with (see the module comment).
pub struct SuccessorKey(Hmac<Sha256>);

impl SuccessorKey {
    /// The name under which the key is kept with the signing keys.
    pub const STORED_AS: &'static str = "refresh-successor-hmac-sha256";
    pub const BYTES: usize = 32;

    pub fn generate_bytes() -> Result<Vec<u8>, KeyError> {
        let mut bytes = vec![0u8; Self::BYTES];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SuccessorKey, KeyError> {
        if bytes.len() != Self::BYTES {
            return Err(KeyError::Invalid(
                "the refresh successor key is not 32 bytes".into(),
            ));
        }
        Hmac::<Sha256>::new_from_slice(bytes)
            .map(SuccessorKey)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }

    /// The one successor of `presented` (a token already checked for shape), of the same
    /// kind: an app's token begets an app's token.
    pub fn successor_of(&self, presented: &str) -> RefreshSecret {
        let prefix = if presented.starts_with(CLIENT_REFRESH_PREFIX) {
            CLIENT_REFRESH_PREFIX
        } else {
            REFRESH_PREFIX
        };
        let mut mac = self.0.clone();
        mac.update(presented.as_bytes());
        RefreshSecret::from_bytes(prefix, &mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for SuccessorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuccessorKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_one_successor_per_key_shaped_like_any_refresh_token() {
        let key = SuccessorKey::from_bytes(&[7; 32]).unwrap();
        let other_key = SuccessorKey::from_bytes(&[8; 32]).unwrap();
        let token = RefreshSecret::generate().unwrap();
        let successor = key.successor_of(token.expose());
        assert_eq!(
            successor.expose(),
            key.successor_of(token.expose()).expose()
        );
        assert_ne!(successor.expose(), token.expose());
        assert_ne!(
            successor.expose(),
            other_key.successor_of(token.expose()).expose()
        );
        // It passes the shape check every presented token goes through.
        assert_eq!(
            RefreshHash::of_presented(successor.expose()),
            Some(successor.hash())
        );
        assert!(SuccessorKey::from_bytes(&[1; 16]).is_err());
        // An app's token begets an app's token, which Gatehouse's own door refuses.
        let apps = key.successor_of(RefreshSecret::generate_for_client().unwrap().expose());
        assert!(apps.expose().starts_with("grt_"));
        assert_eq!(RefreshHash::of_presented(apps.expose()), None);
        assert_eq!(
            RefreshHash::of_presented_by_client(apps.expose()),
            Some(apps.hash())
        );
    }
}
