//! The storage interface over SQLite: each operation is one read, or one write
//! transaction that also says whether it can refuse a token accepted before (and then
//! appends to the revocation log).

use app::model::Role;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{
    SqliteStore,
    rotation::rotate_in,
    rows::{
        SESSION_COLUMNS, USER_COLUMNS, active_admins, count, email_taken_in, escape_like,
        insert_user, map_error, session_from_row, user_by_id_in, user_from_row,
    },
};
use crate::{
    domain::{
        LinkHash, LinkPurpose, PasswordHashString, RecoveryCodeHash, RefreshHash, TicketHash,
    },
    store::{
        AccessFacts, AuditQuery, AuditRecord, CeremonyPurpose, CeremonyRecord, LinkRecord,
        NewAuditEvent, NewCeremony, NewEmail, NewLink, NewPasskey, NewSession, NewStepUp, NewTotp,
        NewUser, Page, PasskeyRecord, Rotation, SecondFactors, SessionRecord, StepUpRecord, Store,
        StoreError, StoreResult, StoredSigningKey, TotpRecord, UserChange, UserQuery, UserRecord,
    },
};

#[async_trait]
impl Store for SqliteStore {
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
                "SELECT {USER_COLUMNS} FROM users WHERE email_key = ?1"
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

    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord> {
        let (user_id, email) = (user_id.to_owned(), email.cloned());
        self.write(move |tx| {
            if let Some(email) = &email
                && email_taken_in(tx, &email.key, Some(&user_id))?
            {
                return Err(StoreError::Conflict("email"));
            }
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
            delete_links_in(tx, &user_id, LinkPurpose::VerifyEmail)?;
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

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
                params![
                    session.id,
                    session.user_id,
                    session.created_at,
                    session.expires_at,
                    session.user_agent,
                    session.ip
                ],
            )
            .map_err(map_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![session.refresh_hash.as_str(), session.id, session.expires_at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        presented: &RefreshHash,
        successor: &RefreshHash,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> StoreResult<Rotation> {
        let (presented, successor) = (presented.clone(), successor.clone());
        // Only a replay revokes. A successful rotation just extends the session, which
        // a remembered answer already allows for (it keeps the expiry, not a verdict).
        self.write_then(
            move |tx| rotate_in(tx, &presented, &successor, now, new_expires_at, grace_secs),
            |rotation| matches!(rotation, Rotation::Reused { .. }).then_some("reuse"),
        )
        .await
    }

    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let presented = presented.clone();
        self.read(move |db| {
            db.prepare_cached(
                "SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
                        s.user_agent, s.ip
                 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.hash = ?1 AND t.superseded_at IS NULL AND t.expires_at > ?2
                   AND s.revoked_at IS NULL AND s.expires_at > ?2",
            )?
            .query_row(params![presented.as_str(), now], session_from_row)
            .optional()
        })
        .await
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
                 ORDER BY created_at DESC, id"
            ))?
            .query_map(params![user_id, now], session_from_row)?
            .collect()
        })
        .await
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str, now: i64) -> StoreResult<bool> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE sessions SET revoked_at = ?3
                         WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                        params![session_id, user_id, now],
                    )
                    .map_err(map_error)?;
                Ok(changed > 0)
            },
            |revoked| revoked.then_some("session"),
        )
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let (user_id, keep) = (user_id.to_owned(), keep.map(str::to_owned));
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE sessions SET revoked_at = ?3
                         WHERE user_id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR id <> ?2)",
                        params![user_id, keep, now],
                    )
                    .map_err(map_error)?;
                Ok(changed as u64)
            },
            |revoked| (*revoked > 0).then_some("sessions"),
        )
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let jti = jti.to_owned();
        self.write_revoking("token", move |tx| {
            tx.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                params![jti, expires_at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>> {
        self.inner.read_here(|db| {
            db.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1),
                        s.revoked_at IS NOT NULL, s.expires_at,
                        u.disabled, u.role, u.username
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = ?2 AND u.id = ?3",
            )?
            .query_row(params![jti, session_id, user_id], |row| {
                let role: String = row.get(4)?;
                Ok(AccessFacts {
                    jti_revoked: row.get(0)?,
                    session_revoked: row.get(1)?,
                    session_expires_at: row.get(2)?,
                    user_disabled: row.get(3)?,
                    // An unknown role grants nothing beyond a plain user's rights.
                    role: Role::parse(&role).unwrap_or(Role::User),
                    username: row.get(5)?,
                })
            })
            .optional()
        })
    }

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

    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO signing_keys (kid, algorithm, private_der, public_raw, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (algorithm) DO NOTHING",
                params![
                    candidate.kid,
                    candidate.algorithm,
                    candidate.private_der,
                    candidate.public_raw,
                    candidate.created_at
                ],
            )
            .map_err(map_error)?;
            tx.query_row(
                "SELECT kid, algorithm, private_der, public_raw, created_at
                 FROM signing_keys WHERE algorithm = ?1",
                [&candidate.algorithm],
                |row| {
                    Ok(StoredSigningKey {
                        kid: row.get(0)?,
                        algorithm: row.get(1)?,
                        private_der: row.get(2)?,
                        public_raw: row.get(3)?,
                        created_at: row.get(4)?,
                    })
                },
            )
            .map_err(map_error)
        })
        .await
    }

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
        self.write(move |tx| {
            let Some(link) = take_link_in(tx, &hash, LinkPurpose::VerifyEmail, now)? else {
                return Ok(None);
            };
            let changed = tx
                .execute(
                    "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email = ?2",
                    params![link.user_id, link.email],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Ok(None);
            }
            user_by_id_in(tx, &link.user_id).map_err(map_error)
        })
        .await
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

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.write_then(
            move |tx| {
                let mut removed = 0;
                for statement in [
                    "DELETE FROM mail_links WHERE expires_at <= ?1",
                    "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
                    "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
                    "DELETE FROM sessions WHERE expires_at <= ?1",
                ] {
                    removed += tx.execute(statement, [now]).map_err(map_error)? as u64;
                }
                // The newest entry stays: it holds the position every instance compares.
                // Entries carry the wall clock's time, as written: judged by it too.
                tx.execute(
                    "DELETE FROM revocation_log WHERE at <= unixepoch() - ?1
                     AND position < (SELECT max(position) FROM revocation_log)",
                    [REVOCATION_LOG_RETENTION_SECS],
                )
                .map_err(map_error)?;
                // Tickets refuse no token: their removal alone is no revocation.
                let mut tickets = 0;
                for statement in [
                    "DELETE FROM step_up_tickets WHERE expires_at <= ?1",
                    "DELETE FROM passkey_ceremonies WHERE expires_at <= ?1",
                ] {
                    tickets += tx.execute(statement, [now]).map_err(map_error)? as u64;
                }
                Ok((removed, tickets))
            },
            |(removed, _)| (*removed > 0).then_some("purge"),
        )
        .await
        .map(|(removed, tickets)| removed + tickets)
    }

    async fn revocation_position(&self) -> StoreResult<u64> {
        self.inner.read_here(|db| {
            db.prepare_cached("SELECT coalesce(max(position), 0) FROM revocation_log")?
                .query_row([], |row| row.get::<_, i64>(0))
                .map(|position| position.max(0) as u64)
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|db| db.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn second_factors(&self, user_id: &str) -> StoreResult<SecondFactors> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            let totp = db
                .prepare_cached(
                    "SELECT sealed_secret, sealed_recovery_codes, confirmed_at, last_used_step,
                            created_at
                     FROM totp_factors WHERE user_id = ?1",
                )?
                .query_row([&user_id], |row| {
                    Ok(TotpRecord {
                        sealed_secret: row.get(0)?,
                        sealed_recovery_codes: row.get(1)?,
                        confirmed_at: row.get(2)?,
                        last_used_step: row.get(3)?,
                        created_at: row.get(4)?,
                    })
                })
                .optional()?;
            let recovery_codes_left: u32 = db
                .prepare_cached("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1")?
                .query_row([&user_id], |row| row.get(0))?;
            Ok(SecondFactors {
                totp,
                recovery_codes_left,
            })
        })
        .await
    }

    async fn begin_totp(&self, enrolment: NewTotp) -> StoreResult<()> {
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "INSERT INTO totp_factors (user_id, sealed_secret, sealed_recovery_codes, created_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id) DO UPDATE SET
                         sealed_secret = excluded.sealed_secret,
                         sealed_recovery_codes = excluded.sealed_recovery_codes,
                         created_at = excluded.created_at
                     WHERE confirmed_at IS NULL",
                    params![
                        enrolment.user_id,
                        enrolment.sealed_secret,
                        enrolment.sealed_recovery_codes,
                        enrolment.created_at
                    ],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict("totp"));
            }
            Ok(())
        })
        .await
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: i64,
    ) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        let codes: Vec<String> = recovery_codes
            .iter()
            .map(|code| code.as_str().to_owned())
            .collect();
        self.write(move |tx| {
            let confirmed = tx
                .execute(
                    "UPDATE totp_factors
                     SET confirmed_at = ?2, last_used_step = ?3, sealed_recovery_codes = NULL
                     WHERE user_id = ?1 AND confirmed_at IS NULL",
                    params![user_id, now, step],
                )
                .map_err(map_error)?;
            if confirmed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [&user_id])
                .map_err(map_error)?;
            let mut insert = tx
                .prepare_cached("INSERT INTO recovery_codes (user_id, hash) VALUES (?1, ?2)")
                .map_err(map_error)?;
            for code in &codes {
                insert.execute(params![user_id, code]).map_err(map_error)?;
            }
            Ok(true)
        })
        .await
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        resealed: Option<&str>,
    ) -> StoreResult<bool> {
        let (user_id, resealed) = (user_id.to_owned(), resealed.map(str::to_owned));
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE totp_factors
                     SET last_used_step = ?2, sealed_secret = coalesce(?3, sealed_secret)
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND last_used_step < ?2",
                    params![user_id, step, resealed],
                )
                .map_err(map_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool> {
        let (user_id, code) = (user_id.to_owned(), code.as_str().to_owned());
        self.write(move |tx| {
            let used = tx
                .execute(
                    "DELETE FROM recovery_codes WHERE user_id = ?1 AND hash = ?2",
                    params![user_id, code],
                )
                .map_err(map_error)?;
            Ok(used == 1)
        })
        .await
    }

    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            let factors = tx
                .execute("DELETE FROM totp_factors WHERE user_id = ?1", [&user_id])
                .map_err(map_error)?;
            let codes = tx
                .execute("DELETE FROM recovery_codes WHERE user_id = ?1", [&user_id])
                .map_err(map_error)?;
            Ok(factors + codes > 0)
        })
        .await
    }

    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO step_up_tickets (hash, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    ticket.hash.as_str(),
                    ticket.user_id,
                    ticket.created_at,
                    ticket.expires_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        let hash = hash.clone();
        self.read(move |db| live_step_up_in(db, &hash, now)).await
    }

    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO passkeys (credential_id, user_id, name, passkey, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    passkey.credential_id,
                    passkey.user_id,
                    passkey.name,
                    passkey.passkey,
                    passkey.created_at
                ],
            )
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("passkey"),
                other => other,
            })?;
            Ok(())
        })
        .await
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1
                 ORDER BY created_at, credential_id"
            ))?
            .query_map([user_id], passkey_from_row)?
            .collect()
        })
        .await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let credential_id = credential_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"
            ))?
            .query_row([credential_id], passkey_from_row)
            .optional()
        })
        .await
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (credential_id, passkey) = (credential_id.to_owned(), passkey.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE passkeys SET passkey = ?2, last_used_at = ?3 WHERE credential_id = ?1",
                    params![credential_id, passkey, now],
                )
                .map_err(map_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn remove_passkeys(
        &self,
        user_id: &str,
        credential_id: Option<&str>,
    ) -> StoreResult<u64> {
        let (user_id, credential_id) = (user_id.to_owned(), credential_id.map(str::to_owned));
        self.write(move |tx| {
            let removed = tx
                .execute(
                    "DELETE FROM passkeys WHERE user_id = ?1 AND (?2 IS NULL OR credential_id = ?2)",
                    params![user_id, credential_id],
                )
                .map_err(map_error)?;
            Ok(removed as u64)
        })
        .await
    }

    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO passkey_ceremonies (hash, user_id, purpose, state, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    ceremony.hash.as_str(),
                    ceremony.user_id,
                    ceremony.purpose.as_str(),
                    ceremony.state,
                    ceremony.created_at,
                    ceremony.expires_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    /// Deleting the row is what uses it: inside the write transaction, only one caller can.
    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "DELETE FROM passkey_ceremonies
                 WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3
                 RETURNING user_id, state, expires_at",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.as_str(), purpose.as_str(), now], |row| {
                        Ok(CeremonyRecord {
                            user_id: row.get(0)?,
                            state: row.get(1)?,
                            expires_at: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .map_err(map_error)
        })
        .await
    }

    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            let ticket = live_step_up_in(tx, &hash, now).map_err(map_error)?;
            if ticket.is_some() {
                tx.execute(
                    "DELETE FROM step_up_tickets WHERE hash = ?1",
                    [hash.as_str()],
                )
                .map_err(map_error)?;
            }
            Ok(ticket)
        })
        .await
    }
}

const PASSKEY_COLUMNS: &str = "credential_id, user_id, name, passkey, created_at, last_used_at";

fn passkey_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        credential_id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        passkey: row.get(3)?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

fn live_step_up_in(
    connection: &rusqlite::Connection,
    hash: &TicketHash,
    now: i64,
) -> rusqlite::Result<Option<StepUpRecord>> {
    connection
        .prepare_cached(
            "SELECT user_id, created_at, expires_at FROM step_up_tickets
             WHERE hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![hash.as_str(), now], |row| {
            Ok(StepUpRecord {
                user_id: row.get(0)?,
                created_at: row.get(1)?,
                expires_at: row.get(2)?,
            })
        })
        .optional()
}

/// Long enough for any instance that was merely slow to have read past an entry; the
/// newest entry is kept whatever its age.
const REVOCATION_LOG_RETENTION_SECS: i64 = 24 * 3600;

/// SQLite's integers are signed, and a negative OFFSET means none at all: a count past
/// `i64::MAX` stays there instead of wrapping to the first page.
fn sql_int(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
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
fn take_link_in(
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

fn delete_links_in(
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
