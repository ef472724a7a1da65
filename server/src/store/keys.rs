//! Token signing keys, shared by every instance on one store.

use super::StoreResult;
use async_trait::async_trait;

/// A signing key as stored: the private half never leaves the server.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_der: Vec<u8>,
    pub public_raw: Vec<u8>,
    pub created_at: i64,
}

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Stores `candidate` unless a key of that algorithm exists; returns the one in force.
    /// Several servers starting at once on one store agree on a single key.
    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey>;
    /// The key of `algorithm` in force, if one was made: for keys costly to generate
    /// (RSA), which a starting server should not make only to find one exists.
    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>>;
}
