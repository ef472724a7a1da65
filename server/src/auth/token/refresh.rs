//! Refresh tokens: opaque, random, handed to the client once; only their hash is kept.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::KeyError;
use crate::domain::{REFRESH_PREFIX, RefreshHash};

const REFRESH_RANDOM_BYTES: usize = 32;

/// A refresh token as handed to the client once; only its hash is ever stored.
pub struct RefreshSecret(String);

impl RefreshSecret {
    pub fn generate() -> Result<RefreshSecret, KeyError> {
        let mut bytes = [0u8; REFRESH_RANDOM_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(RefreshSecret(format!(
            "{REFRESH_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> RefreshHash {
        RefreshHash::of_issued(&self.0)
    }
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecret([redacted])")
    }
}
