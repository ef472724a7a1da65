//! What keeps a store healthy: purging what expired, and the readiness round trip.

use super::StoreResult;
use async_trait::async_trait;

#[async_trait]
pub trait Upkeep: Send + Sync + 'static {
    /// Deletes expired sessions, refresh tokens, revocations, mailed links, step-up
    /// tickets and passkey ceremonies; returns rows removed.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}
