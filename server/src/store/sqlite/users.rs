//! Accounts on SQLite: the last-admin rule and the first admin are decided inside
//! one write transaction, so concurrent changes serialize on the writer.

use super::SqliteStore;
use super::links::delete_links_in;
use super::rows::{
    USER_COLUMNS, active_admins, count, escape_like, insert_user, map_error, sql_int,
    user_by_id_in, user_from_row,
};
use crate::domain::{LinkPurpose, PasswordHashString, WaysOff};
use crate::store::{
    NewEmail, NewUser, Page, StoreError, StoreResult, UserChange, UserQuery, UserRecord, UserStore,
};
use app::model::Role;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.write(move |tx| {
            insert_user(tx, &user)?;
            user_by_id_in(tx, &user.id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>> {
        self.write(move |tx| {
            let admins = tx
                .query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], count)
                .map_err(map_error)?;
            if admins > 0 {
                return Ok(None);
            }
            let admin = NewUser {
                role: Role::Admin,
                ..user
            };
            insert_user(tx, &admin)?;
            user_by_id_in(tx, &admin.id).map_err(map_error)
        })
        .await
    }

    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        let key = key.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE username_key = ?1"
            ))?
            .query_row([key], user_from_row)
            .optional()
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let id = id.to_owned();
        self.read(move |db| user_by_id_in(db, &id)).await
    }

    async fn user_by_email_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        let key = key.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE email_key = ?1
                 ORDER BY email_verified DESC, created_at, id LIMIT 1"
            ))?
            .query_row([key], user_from_row)
            .optional()
        })
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()> {
        let (user_id, hash) = (user_id.to_owned(), hash.as_str().to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![user_id, hash],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            delete_links_in(tx, &user_id, LinkPurpose::ResetPassword)?;
            Ok(())
        })
        .await
    }

    async fn set_ways_off(&self, user_id: &str, off: WaysOff) -> StoreResult<UserRecord> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE users SET ways_off = ?2 WHERE id = ?1",
                    params![user_id, off.stored()],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord> {
        let (user_id, email) = (user_id.to_owned(), email.cloned());
        // Logged: instances remember the address with the access answers.
        self.write_revoking("email", move |tx| {
            let changed = tx
                .execute(
                    "UPDATE users SET email = ?2, email_key = ?3, email_verified = 0 WHERE id = ?1",
                    params![
                        user_id,
                        email.as_ref().map(|email| &email.address),
                        email.as_ref().map(|email| &email.key)
                    ],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            // Links mailed to the old address die with it: whoever reads that inbox now
            // may not be the account's owner.
            for purpose in [
                LinkPurpose::VerifyEmail,
                LinkPurpose::ResetPassword,
                LinkPurpose::SignInCode,
            ] {
                delete_links_in(tx, &user_id, purpose)?;
            }
            user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>> {
        let pattern = format!(
            "%{}%",
            escape_like(&query.search.clone().unwrap_or_default().to_lowercase())
        );
        let (limit, offset) = (sql_int(query.limit), sql_int(query.offset));
        self.read(move |db| {
            let total: u64 = db
                .prepare_cached(
                    "SELECT COUNT(*) FROM users WHERE username_key LIKE ?1 ESCAPE '\\'",
                )?
                .query_row([&pattern], count)?;
            let items = db
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE username_key LIKE ?1 ESCAPE '\\'
                     ORDER BY created_at, id LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![pattern, limit, offset], user_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page { items, total })
        })
        .await
    }

    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord> {
        let (user_id, change) = (user_id.to_owned(), change.clone());
        self.write_revoking("user", move |tx| {
            let user = user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)?;
            let role = change.role.unwrap_or(user.role);
            let disabled = change.disabled.unwrap_or(user.disabled);
            let was_active_admin = user.role == Role::Admin && !user.disabled;
            let stays_active_admin = role == Role::Admin && !disabled;
            if was_active_admin && !stays_active_admin && active_admins(tx).map_err(map_error)? <= 1
            {
                return Err(StoreError::LastAdmin);
            }
            tx.execute(
                "UPDATE users SET role = ?2, disabled = ?3 WHERE id = ?1",
                params![user_id, role.as_str(), disabled],
            )
            .map_err(map_error)?;
            user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }
}
