//! The audit log on MongoDB: time-ordered ids with random low bits, no counter
//! document.

use super::documents::{AuditDoc, date};
use super::queries::page_of;
use super::{MongoStore, map_error};
use crate::store::{
    AuditQuery, AuditRecord, AuditStore, NewAuditEvent, Page, StoreError, StoreResult,
};
use async_trait::async_trait;
use mongodb::bson::{Document, doc};

/// How often an audit insert draws a new id after a clash before giving up.
const AUDIT_ID_DRAWS: usize = 3;

#[async_trait]
impl AuditStore for MongoStore {
    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.indexed().await?;
        let mut doc = AuditDoc {
            id: self.audit_ids.next(),
            at: event.at,
            at_date: date(event.at),
            kind: event.kind.to_owned(),
            user_id: event.user_id,
            username: event.username,
            ip: event.ip,
            user_agent: event.user_agent,
            detail: event.detail,
        };
        // Another instance drew the same id in the same millisecond: draw again.
        for _ in 0..AUDIT_ID_DRAWS {
            match self.audit.insert_one(&doc).await.map_err(map_error) {
                Err(StoreError::Conflict(_)) => doc.id = self.audit_ids.next(),
                outcome => return outcome.map(drop),
            }
        }
        Err(StoreError::Conflict("audit id"))
    }

    async fn purge_audit_before(&self, cutoff: i64) -> StoreResult<u64> {
        self.indexed().await?;
        Ok(self
            .audit
            .delete_many(doc! {"at": {"$lt": cutoff}})
            .await
            .map_err(map_error)?
            .deleted_count)
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
        self.indexed().await?;
        let mut filter = Document::new();
        if let Some(kind) = &query.kind {
            filter.insert("kind", kind.as_str());
        }
        if let Some(user_id) = &query.user_id {
            filter.insert("user_id", user_id.as_str());
        }
        let total = self
            .audit
            .count_documents(filter.clone())
            .await
            .map_err(map_error)?;
        let events = page_of(
            &self.audit,
            filter,
            doc! {"_id": -1},
            (query.offset, query.limit),
            total,
        )
        .await?;
        Ok(Page {
            items: events
                .into_iter()
                .map(|event| AuditRecord {
                    id: event.id,
                    at: event.at,
                    kind: event.kind,
                    user_id: event.user_id,
                    username: event.username,
                    ip: event.ip,
                    user_agent: event.user_agent,
                    detail: event.detail,
                })
                .collect(),
            total,
        })
    }
}
