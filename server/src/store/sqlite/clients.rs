//! OpenID Connect clients on SQLite.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{
    ClientStore, OidcClient, StoreError, StoreResult,
    clients::{list_from_text, list_text},
};
use async_trait::async_trait;
use rusqlite::{Row, params};

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris,
     grant_types, pre_consented, disabled, created_at, updated_at, id_token_alg";

fn client_from_row(row: &Row<'_>) -> rusqlite::Result<OidcClient> {
    let redirect_uris: String = row.get(3)?;
    let post_logout: String = row.get(4)?;
    let grant_types: String = row.get(5)?;
    Ok(OidcClient {
        id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: row.get(2)?,
        redirect_uris: list_from_text(&redirect_uris),
        post_logout_redirect_uris: list_from_text(&post_logout),
        grant_types: list_from_text(&grant_types),
        pre_consented: row.get(6)?,
        disabled: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        id_token_alg: row.get(10)?,
    })
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn clients(&self) -> StoreResult<Vec<OidcClient>> {
        self.read(|connection| {
            let mut query =
                connection.prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients"))?;
            let clients = query.query_map([], client_from_row)?;
            clients.collect()
        })
        .await
    }

    async fn client(&self, id: &str) -> StoreResult<Option<OidcClient>> {
        let id = id.to_owned();
        self.read(move |connection| {
            let mut query = connection.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = ?1"
            ))?;
            let mut rows = query.query_map([id], client_from_row)?;
            rows.next().transpose()
        })
        .await
    }

    async fn add_client(&self, client: OidcClient) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO oidc_clients ({CLIENT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    client.id,
                    client.name,
                    client.secret_hash,
                    list_text(&client.redirect_uris),
                    list_text(&client.post_logout_redirect_uris),
                    list_text(&client.grant_types),
                    client.pre_consented,
                    client.disabled,
                    client.created_at,
                    client.updated_at,
                    client.id_token_alg
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn replace_client(&self, client: OidcClient) -> StoreResult<()> {
        // A client disabled or narrowed must stop what it was allowed: revoking.
        self.write_revoking("oidc_client", move |tx| {
            let changed = tx
                .execute(
                    "UPDATE oidc_clients SET name = ?2, secret_hash = ?3, redirect_uris = ?4,
                     post_logout_redirect_uris = ?5, grant_types = ?6, pre_consented = ?7,
                     disabled = ?8, updated_at = ?9, id_token_alg = ?10 WHERE id = ?1",
                    params![
                        client.id,
                        client.name,
                        client.secret_hash,
                        list_text(&client.redirect_uris),
                        list_text(&client.post_logout_redirect_uris),
                        list_text(&client.grant_types),
                        client.pre_consented,
                        client.disabled,
                        client.updated_at,
                        client.id_token_alg
                    ],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn remove_client(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write_then(
            move |tx| {
                tx.execute("DELETE FROM oidc_clients WHERE id = ?1", [id])
                    .map(|removed| removed > 0)
                    .map_err(map_error)
            },
            |removed| removed.then_some("oidc_client"),
        )
        .await
    }
}
