//! Token signing keys, shared by every instance on one store. Keys of one algorithm form
//! a line of generations: the newest signs; an older one is still published (and still
//! verifies) until every token it signed has expired, then it is removed.

use super::StoreResult;
use async_trait::async_trait;

/// A signing key as stored: the private half never leaves the server.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    /// 0 for the first key of its algorithm; each rotation adds one.
    pub generation: i64,
    pub private_der: Vec<u8>,
    pub public_raw: Vec<u8>,
    pub created_at: i64,
}

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Stores `candidate` as generation 0 unless a key of its algorithm exists; returns
    /// the newest. Several servers starting at once on one store agree on a single key.
    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey>;
    /// The newest key of `algorithm`, if one was made: for keys costly to generate
    /// (RSA), which a starting server should not make only to find one exists.
    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>>;
    /// Every stored key of `algorithm`, oldest generation first.
    async fn signing_keys(&self, algorithm: &str) -> StoreResult<Vec<StoredSigningKey>>;
    /// Stores `candidate` as the next generation of its algorithm (its `generation` is
    /// ignored): it signs from now on, on every instance. A revoking write, so other
    /// instances reload their keys within the revocation bound. Returns it as stored.
    async fn add_signing_key(&self, candidate: StoredSigningKey) -> StoreResult<StoredSigningKey>;
    /// Removes every key whose successor was made before `superseded_before` (so every
    /// token it signed has expired); returns how many.
    async fn remove_superseded_signing_keys(&self, superseded_before: i64) -> StoreResult<u64>;
}
