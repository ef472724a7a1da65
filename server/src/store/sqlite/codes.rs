//! Authorization codes on SQLite: the single writer makes read-then-mark atomic.

use super::SqliteStore;
use super::rows::map_error;
use crate::domain::SignInMethod;
use crate::store::{AuthorizationCode, CodeRedemption, CodeStore, StoreResult};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl CodeStore for SqliteStore {
    async fn save_code(&self, code: AuthorizationCode) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri,
                 scope, nonce, code_challenge, session_id, auth_time, second_factor, created_at,
                 expires_at, sign_in_method)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    code.code_hash,
                    code.client_id,
                    code.user_id,
                    code.redirect_uri,
                    code.scope,
                    code.nonce,
                    code.code_challenge,
                    code.session_id,
                    code.auth_time,
                    code.sign_in.is_multi_factor(),
                    code.created_at,
                    code.expires_at,
                    code.sign_in.stored()
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption> {
        let code_hash = code_hash.to_owned();
        self.write(move |tx| {
            let found = tx
                .query_row(
                    "SELECT code_hash, client_id, user_id, redirect_uri, scope, nonce,
                     code_challenge, session_id, auth_time, second_factor, created_at,
                     expires_at, redeemed, sign_in_method
                     FROM authorization_codes WHERE code_hash = ?1",
                    [&code_hash],
                    |row| {
                        Ok((
                            AuthorizationCode {
                                code_hash: row.get(0)?,
                                client_id: row.get(1)?,
                                user_id: row.get(2)?,
                                redirect_uri: row.get(3)?,
                                scope: row.get(4)?,
                                nonce: row.get(5)?,
                                code_challenge: row.get(6)?,
                                session_id: row.get(7)?,
                                auth_time: row.get(8)?,
                                sign_in: SignInMethod::from_stored(
                                    row.get::<_, Option<String>>(13)?.as_deref(),
                                    row.get(9)?,
                                ),
                                created_at: row.get(10)?,
                                expires_at: row.get(11)?,
                            },
                            row.get::<_, bool>(12)?,
                        ))
                    },
                )
                .optional()
                .map_err(map_error)?;
            Ok(match found {
                None => CodeRedemption::Unknown,
                Some((code, true)) => CodeRedemption::Replayed(code),
                Some((code, false)) if code.expires_at <= now => CodeRedemption::Unknown,
                Some((code, false)) => {
                    tx.execute(
                        "UPDATE authorization_codes SET redeemed = 1 WHERE code_hash = ?1",
                        params![code.code_hash],
                    )
                    .map_err(map_error)?;
                    CodeRedemption::Redeemed(code)
                }
            })
        })
        .await
    }
}
