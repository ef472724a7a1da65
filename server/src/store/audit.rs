//! The audit log: what happened to whom, newest first.

use super::{Page, StoreResult};
use async_trait::async_trait;

#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    pub at: i64,
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()>;
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>>;
    /// Forgets the events from before `cutoff` (the retention setting); how many went.
    async fn purge_audit_before(&self, cutoff: i64) -> StoreResult<u64>;
}
