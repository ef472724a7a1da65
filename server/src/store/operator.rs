//! What an operator task (the CLI) may do to a store that a running server may be using.

use std::sync::Arc;

use async_trait::async_trait;

use super::{NewAuditEvent, NewUser, Store, StoreResult, UserRecord, sqlite::SqliteStore};

/// Only adding: an account and its audit event. Nothing here can refuse a token a
/// running server has accepted, so the server's remembered answers (the embedded store's
/// `AccessMemory`) stay exact while an operator works beside it.
#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// Fails with `Conflict` when the username key is taken.
    async fn add_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    async fn add_audit_event(&self, event: NewAuditEvent) -> StoreResult<()>;
}

/// A full store (MongoDB, where every instance asks the database) can serve as one.
#[async_trait]
impl OperatorStore for Arc<dyn Store> {
    async fn add_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.create_user(user).await
    }

    async fn add_audit_event(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.append_audit(event).await
    }
}

/// The embedded store opened beside its owner: the narrow type is the guarantee.
pub struct BesideOwner(pub(super) SqliteStore);

#[async_trait]
impl OperatorStore for BesideOwner {
    async fn add_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.0.create_user(user).await
    }

    async fn add_audit_event(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.0.append_audit(event).await
    }
}
