//! Consents on SQLite: one row per user and client.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{Consent, ConsentStore, StoreResult};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

fn consent_from_row(row: &Row<'_>) -> rusqlite::Result<Consent> {
    Ok(Consent {
        user_id: row.get(0)?,
        client_id: row.get(1)?,
        scope: row.get(2)?,
        granted_at: row.get(3)?,
    })
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT user_id, client_id, scope, granted_at FROM oidc_consents
                     WHERE user_id = ?1 AND client_id = ?2",
                )?
                .query_row([user_id, client_id], consent_from_row)
                .optional()
        })
        .await
    }

    async fn save_consent(&self, consent: Consent) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, client_id)
                 DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                params![
                    consent.user_id,
                    consent.client_id,
                    consent.scope,
                    consent.granted_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn consents_of(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        let user_id = user_id.to_owned();
        self.read(move |connection| {
            let mut query = connection.prepare_cached(
                "SELECT user_id, client_id, scope, granted_at FROM oidc_consents
                 WHERE user_id = ?1",
            )?;
            let consents = query.query_map([user_id], consent_from_row)?;
            consents.collect()
        })
        .await
    }

    async fn remove_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
                [user_id, client_id],
            )
            .map(|removed| removed > 0)
            .map_err(map_error)
        })
        .await
    }
}
