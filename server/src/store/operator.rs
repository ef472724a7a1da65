//! What an operator task (the CLI) may do to a store that a running server may be using.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    ClientStore, KeyStore, NewAuditEvent, NewUser, OidcClient, Store, StoreResult,
    StoredSigningKey, UserRecord,
};

/// Only adding: an account, a client, a signing key and their audit events. Nothing
/// here can refuse a token a running server has accepted, so an operator task needs no
/// memory of its own; a new signing key is the one revoking write (its backend logs it,
/// so running servers read their keys again).
#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// Fails with `Conflict` when the username key is taken.
    async fn add_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    async fn add_audit_event(&self, event: NewAuditEvent) -> StoreResult<()>;
    /// Registers an OpenID Connect client; `Conflict` when its id is taken.
    async fn add_client(&self, client: OidcClient) -> StoreResult<()>;
    /// Adds the next generation of a signing key (`KeyStore::add_signing_key`).
    async fn add_signing_key(&self, key: StoredSigningKey) -> StoreResult<StoredSigningKey>;
}

/// Any backend, opened as the servers open it.
#[async_trait]
impl OperatorStore for Arc<dyn Store> {
    async fn add_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.create_user(user).await
    }

    async fn add_audit_event(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.append_audit(event).await
    }

    async fn add_client(&self, client: OidcClient) -> StoreResult<()> {
        ClientStore::add_client(self.as_ref(), client).await
    }

    async fn add_signing_key(&self, key: StoredSigningKey) -> StoreResult<StoredSigningKey> {
        KeyStore::add_signing_key(self.as_ref(), key).await
    }
}
