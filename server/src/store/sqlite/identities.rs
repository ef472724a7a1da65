//! Linked identities on SQLite: the provider and its subject are the primary key, so a
//! provider's account belongs to one Gatehouse account.

use super::SqliteStore;
use super::rows::{insert_user, map_error, user_by_id_in};
use crate::store::{
    IdentityStore, IdentityUnlinking, LinkedIdentity, NewUser, StoreError, StoreResult, UserRecord,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, Transaction, params};

const IDENTITY_COLUMNS: &str = "provider, subject, user_id, email, linked_at, last_used_at";

fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<LinkedIdentity> {
    Ok(LinkedIdentity {
        provider: row.get(0)?,
        subject: row.get(1)?,
        user_id: row.get(2)?,
        email: row.get(3)?,
        linked_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

fn insert_identity(tx: &Transaction<'_>, identity: &LinkedIdentity) -> StoreResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO linked_identities ({IDENTITY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ),
        params![
            identity.provider,
            identity.subject,
            identity.user_id,
            identity.email,
            identity.linked_at,
            identity.last_used_at
        ],
    )
    .map_err(|error| match map_error(error) {
        StoreError::Conflict(_) => StoreError::Conflict("identity"),
        other => other,
    })?;
    Ok(())
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM linked_identities
                 WHERE provider = ?1 AND subject = ?2"
            ))?
            .query_row([provider, subject], identity_from_row)
            .optional()
        })
        .await
    }

    async fn identity_count_at(&self, provider: &str) -> StoreResult<u64> {
        let provider = provider.to_owned();
        self.read(move |db| {
            db.prepare_cached("SELECT COUNT(*) FROM linked_identities WHERE provider = ?1")?
                .query_row([provider], |row| row.get::<_, i64>(0))
        })
        .await
        .map(|count| count as u64)
    }

    async fn identities_of(&self, user_id: &str) -> StoreResult<Vec<LinkedIdentity>> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM linked_identities WHERE user_id = ?1
                 ORDER BY linked_at, provider, subject"
            ))?
            .query_map([user_id], identity_from_row)?
            .collect()
        })
        .await
    }

    async fn link_identity(&self, identity: LinkedIdentity) -> StoreResult<()> {
        self.write(move |tx| insert_identity(tx, &identity)).await
    }

    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: LinkedIdentity,
    ) -> StoreResult<UserRecord> {
        self.write(move |tx| {
            insert_user(tx, &user)?;
            insert_identity(tx, &identity)?;
            user_by_id_in(tx, &user.id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn record_identity_use(
        &self,
        provider: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE linked_identities SET last_used_at = ?3
                     WHERE provider = ?1 AND subject = ?2",
                    params![provider, subject, now],
                )
                .map_err(map_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn unlink_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        keep_one_of: Option<&[String]>,
    ) -> StoreResult<IdentityUnlinking> {
        let (user_id, provider, subject) =
            (user_id.to_owned(), provider.to_owned(), subject.to_owned());
        let keep_one_of = keep_one_of.map(<[String]>::to_vec);
        // One write transaction: what is counted and what is deleted are the same rows.
        self.write(move |tx| {
            let mut linked = tx
                .prepare("SELECT provider, subject FROM linked_identities WHERE user_id = ?1")
                .map_err(map_error)?;
            let linked = linked
                .query_map([&user_id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(map_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_error)?;
            let is_this = |(linked_provider, linked_subject): &(String, String)| {
                *linked_provider == provider && *linked_subject == subject
            };
            if !linked.iter().any(is_this) {
                return Ok(IdentityUnlinking::NotLinked);
            }
            if let Some(offered) = &keep_one_of {
                let offered =
                    |linked_provider: &str| offered.iter().any(|id| id == linked_provider);
                let another_kept = linked
                    .iter()
                    .any(|identity| !is_this(identity) && offered(&identity.0));
                if offered(&provider) && !another_kept {
                    return Ok(IdentityUnlinking::KeptAsLast);
                }
            }
            tx.execute(
                "DELETE FROM linked_identities
                 WHERE user_id = ?1 AND provider = ?2 AND subject = ?3",
                params![user_id, provider, subject],
            )
            .map_err(map_error)?;
            Ok(IdentityUnlinking::Unlinked)
        })
        .await
    }
}
