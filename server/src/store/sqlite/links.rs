//! Mailed links on SQLite: a link is deleted as it is used, inside the write
//! transaction, so only one caller can use it.

use super::SqliteStore;
use super::rows::{map_error, user_by_id_in};
use crate::domain::{LinkHash, LinkPurpose, PasswordHashString};
use crate::store::{LinkRecord, LinkStore, NewLink, StoreError, StoreResult, UserRecord};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl LinkStore for SqliteStore {
    async fn create_link(&self, link: NewLink) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO mail_links (hash, user_id, purpose, email, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    link.hash.as_str(),
                    link.user_id,
                    link.purpose.as_str(),
                    link.email,
                    link.created_at,
                    link.expires_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn find_link(
        &self,
        hash: &LinkHash,
        purpose: LinkPurpose,
        now: i64,
    ) -> StoreResult<Option<LinkRecord>> {
        let hash = hash.clone();
        self.read(move |db| live_link_in(db, &hash, purpose, now))
            .await
    }

    async fn use_verification_link(
        &self,
        hash: &LinkHash,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let hash = hash.clone();
        self.write_then(
            move |tx| {
                let Some(link) = take_link_in(tx, &hash, LinkPurpose::VerifyEmail, now)? else {
                    return Ok(Ok(None));
                };
                // Another account verified the address first: the link is spent (it can
                // never work), and the caller is told why.
                let taken: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM users
                     WHERE email_key = (SELECT email_key FROM users WHERE id = ?1 AND email = ?2)
                       AND email_verified = 1 AND id <> ?1)",
                        params![link.user_id, link.email],
                        |row| row.get(0),
                    )
                    .map_err(map_error)?;
                if taken {
                    return Ok(Err(StoreError::Conflict("email")));
                }
                let changed = tx
                    .execute(
                        "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email = ?2",
                        params![link.user_id, link.email],
                    )
                    .map_err(map_error)?;
                if changed == 0 {
                    return Ok(Ok(None));
                }
                Ok(user_by_id_in(tx, &link.user_id).map_err(map_error))
            },
            // Logged: instances remember whether the address is verified.
            |verified| matches!(verified, Ok(Some(_))).then_some("verified"),
        )
        .await?
    }

    async fn use_reset_link(
        &self,
        hash: &LinkHash,
        new_hash: &PasswordHashString,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let (hash, new_hash) = (hash.clone(), new_hash.as_str().to_owned());
        self.write_then(
            move |tx| {
                let Some(link) = take_link_in(tx, &hash, LinkPurpose::ResetPassword, now)? else {
                    return Ok(None);
                };
                tx.execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![link.user_id, new_hash],
                )
                .map_err(map_error)?;
                delete_links_in(tx, &link.user_id, LinkPurpose::ResetPassword)?;
                tx.execute(
                    "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                    params![link.user_id, now],
                )
                .map_err(map_error)?;
                user_by_id_in(tx, &link.user_id).map_err(map_error)
            },
            |used| used.is_some().then_some("reset"),
        )
        .await
    }

    async fn use_sign_in_code(&self, hash: &LinkHash, now: i64) -> StoreResult<Option<LinkRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            let code = take_link_in(tx, &hash, LinkPurpose::SignInCode, now)?;
            if let Some(code) = &code {
                delete_links_in(tx, &code.user_id, LinkPurpose::SignInCode)?;
            }
            Ok(code)
        })
        .await
    }
}

fn live_link_in(
    connection: &rusqlite::Connection,
    hash: &LinkHash,
    purpose: LinkPurpose,
    now: i64,
) -> rusqlite::Result<Option<LinkRecord>> {
    connection
        .prepare_cached(
            "SELECT user_id, email, created_at, expires_at FROM mail_links
             WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3",
        )?
        .query_row(params![hash.as_str(), purpose.as_str(), now], |row| {
            Ok(LinkRecord {
                user_id: row.get(0)?,
                purpose,
                email: row.get(1)?,
                created_at: row.get(2)?,
                expires_at: row.get(3)?,
            })
        })
        .optional()
}

/// Deletes the link as it reads it: inside the write transaction, only one caller can.
pub(super) fn take_link_in(
    transaction: &rusqlite::Transaction<'_>,
    hash: &LinkHash,
    purpose: LinkPurpose,
    now: i64,
) -> StoreResult<Option<LinkRecord>> {
    let link = live_link_in(transaction, hash, purpose, now).map_err(map_error)?;
    if link.is_some() {
        transaction
            .execute("DELETE FROM mail_links WHERE hash = ?1", [hash.as_str()])
            .map_err(map_error)?;
    }
    Ok(link)
}

pub(super) fn delete_links_in(
    transaction: &rusqlite::Transaction<'_>,
    user_id: &str,
    purpose: LinkPurpose,
) -> StoreResult<()> {
    transaction
        .execute(
            "DELETE FROM mail_links WHERE user_id = ?1 AND purpose = ?2",
            params![user_id, purpose.as_str()],
        )
        .map_err(map_error)?;
    Ok(())
}
