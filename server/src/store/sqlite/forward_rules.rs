//! Forward-auth rules on SQLite: the unique (host, path prefix) pair settles races, and
//! every change appends to the revocation log in its own transaction.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{
    ForwardRule, ForwardRuleStore, StoreError, StoreResult,
    forward_rules::{roles_from_text, roles_text},
};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl ForwardRuleStore for SqliteStore {
    async fn forward_rules(&self) -> StoreResult<Vec<ForwardRule>> {
        self.read(|connection| {
            let mut query = connection.prepare_cached(
                "SELECT id, host, path_prefix, roles, users, two_factor, created_at, updated_at
                 FROM forward_rules",
            )?;
            let rules = query.query_map([], |row| {
                let roles: String = row.get(3)?;
                let users: String = row.get(4)?;
                Ok(ForwardRule {
                    id: row.get(0)?,
                    host: row.get(1)?,
                    path_prefix: row.get(2)?,
                    roles: roles_from_text(&roles),
                    users: users.split_whitespace().map(str::to_owned).collect(),
                    two_factor: row.get(5)?,
                    created_at: row.get(6)?,
                    updated_at: row.get(7)?,
                })
            })?;
            rules.collect()
        })
        .await
    }

    async fn add_forward_rule(&self, rule: ForwardRule) -> StoreResult<()> {
        self.write_revoking("forward_rule", move |tx| {
            tx.execute(
                "INSERT INTO forward_rules
                 (id, host, path_prefix, roles, users, two_factor, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    rule.id,
                    rule.host,
                    rule.path_prefix,
                    roles_text(&rule.roles),
                    rule.users.join(" "),
                    rule.two_factor,
                    rule.created_at,
                    rule.updated_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn replace_forward_rule(&self, rule: ForwardRule) -> StoreResult<()> {
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE forward_rules SET host = ?2, path_prefix = ?3, roles = ?4,
                         users = ?5, two_factor = ?6, updated_at = ?7 WHERE id = ?1",
                        params![
                            rule.id,
                            rule.host,
                            rule.path_prefix,
                            roles_text(&rule.roles),
                            rule.users.join(" "),
                            rule.two_factor,
                            rule.updated_at
                        ],
                    )
                    .map_err(map_error)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            },
            |_| Some("forward_rule"),
        )
        .await
    }

    async fn remove_forward_rule(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write_then(
            move |tx| {
                tx.execute("DELETE FROM forward_rules WHERE id = ?1", [id])
                    .map(|removed| removed > 0)
                    .map_err(map_error)
            },
            |removed| removed.then_some("forward_rule"),
        )
        .await
    }
}
