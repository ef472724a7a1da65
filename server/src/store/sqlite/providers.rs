//! Stored providers on SQLite: the id is the primary key; every change appends to the
//! revocation log in its own transaction, and a removal takes the provider's links in
//! the same one.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{ProviderStore, StoreError, StoreResult, StoredProvider};
use async_trait::async_trait;
use rusqlite::{Row, params};

const PROVIDER_COLUMNS: &str = "id, kind, name, issuer, api_url, client_id, sealed_client_secret,
     sign_up, trust_amr, link_verified_email, disabled, created_at, updated_at";

fn provider_from_row(row: &Row<'_>) -> rusqlite::Result<StoredProvider> {
    Ok(StoredProvider {
        id: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        issuer: row.get(3)?,
        api_url: row.get(4)?,
        client_id: row.get(5)?,
        sealed_client_secret: row.get(6)?,
        sign_up: row.get(7)?,
        trust_amr: row.get(8)?,
        link_verified_email: row.get(9)?,
        disabled: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn stored_providers(&self) -> StoreResult<Vec<StoredProvider>> {
        self.read(|connection| {
            let mut query = connection.prepare_cached(&format!(
                "SELECT {PROVIDER_COLUMNS} FROM upstream_providers"
            ))?;
            let providers = query.query_map([], provider_from_row)?;
            providers.collect()
        })
        .await
    }

    async fn add_provider(&self, provider: StoredProvider) -> StoreResult<()> {
        self.write_revoking("provider", move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO upstream_providers ({PROVIDER_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    provider.id,
                    provider.kind,
                    provider.name,
                    provider.issuer,
                    provider.api_url,
                    provider.client_id,
                    provider.sealed_client_secret,
                    provider.sign_up,
                    provider.trust_amr,
                    provider.link_verified_email,
                    provider.disabled,
                    provider.created_at,
                    provider.updated_at
                ],
            )
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("provider"),
                other => other,
            })?;
            Ok(())
        })
        .await
    }

    async fn replace_provider(&self, provider: StoredProvider) -> StoreResult<()> {
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE upstream_providers SET kind = ?2, name = ?3, issuer = ?4,
                         api_url = ?5, client_id = ?6, sealed_client_secret = ?7, sign_up = ?8,
                         trust_amr = ?9, link_verified_email = ?10, disabled = ?11,
                         updated_at = ?12 WHERE id = ?1",
                        params![
                            provider.id,
                            provider.kind,
                            provider.name,
                            provider.issuer,
                            provider.api_url,
                            provider.client_id,
                            provider.sealed_client_secret,
                            provider.sign_up,
                            provider.trust_amr,
                            provider.link_verified_email,
                            provider.disabled,
                            provider.updated_at
                        ],
                    )
                    .map_err(map_error)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            },
            |_| Some("provider"),
        )
        .await
    }

    async fn remove_provider(&self, id: &str) -> StoreResult<Option<u64>> {
        let id = id.to_owned();
        self.write_then(
            move |tx| {
                let removed = tx
                    .execute("DELETE FROM upstream_providers WHERE id = ?1", [&id])
                    .map_err(map_error)?;
                if removed == 0 {
                    return Ok(None);
                }
                let unlinked = tx
                    .execute("DELETE FROM linked_identities WHERE provider = ?1", [&id])
                    .map_err(map_error)?;
                Ok(Some(unlinked as u64))
            },
            |removed| removed.map(|_| "provider"),
        )
        .await
    }
}
