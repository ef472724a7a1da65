//! The audit log on SQLite: ids from the table's own rowid, newest first.

use super::SqliteStore;
use super::rows::{count, map_error, sql_int};
use crate::store::{AuditQuery, AuditRecord, AuditStore, NewAuditEvent, Page, StoreResult};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_events (at, kind, user_id, username, ip, user_agent, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    event.at,
                    event.kind,
                    event.user_id,
                    event.username,
                    event.ip,
                    event.user_agent,
                    event.detail
                ])
            })
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn purge_audit_before(&self, cutoff: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            Ok(tx
                .execute("DELETE FROM audit_events WHERE at < ?1", [cutoff])
                .map_err(map_error)? as u64)
        })
        .await
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
        let query = query.clone();
        self.read(move |db| {
            let filter = "(?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR user_id = ?2)";
            let total: u64 = db
                .prepare_cached(&format!("SELECT COUNT(*) FROM audit_events WHERE {filter}"))?
                .query_row(params![query.kind, query.user_id], count)?;
            let items = db
                .prepare_cached(&format!(
                    "SELECT id, at, kind, user_id, username, ip, user_agent, detail
                     FROM audit_events WHERE {filter}
                     ORDER BY id DESC LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(
                    params![
                        query.kind,
                        query.user_id,
                        sql_int(query.limit),
                        sql_int(query.offset)
                    ],
                    |row| {
                        Ok(AuditRecord {
                            id: row.get(0)?,
                            at: row.get(1)?,
                            kind: row.get(2)?,
                            user_id: row.get(3)?,
                            username: row.get(4)?,
                            ip: row.get(5)?,
                            user_agent: row.get(6)?,
                            detail: row.get(7)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page { items, total })
        })
        .await
    }
}
