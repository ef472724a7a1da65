//! The storage interface over MongoDB: one server-side operation per decision.

use app::model::Role;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    Collection,
    bson::{Bson, Document, doc},
    options::ReturnDocument,
};
use serde::de::DeserializeOwned;

use super::{
    MongoStore,
    documents::{
        AuditDoc, CeremonyDoc, FactorDoc, KeyDoc, LinkDoc, PasskeyDoc, SessionDoc, StepUpDoc,
        UserDoc, binary, date,
    },
    map_error,
    queries::{grace_filter, literal_regex, rotation_filter, rotation_update},
};
use crate::{
    domain::{
        LinkHash, LinkPurpose, PasswordHashString, RecoveryCodeHash, RefreshHash, TicketHash,
    },
    store::{
        AccessFacts, AuditQuery, AuditRecord, CeremonyPurpose, CeremonyRecord, LinkRecord,
        NewAuditEvent, NewCeremony, NewEmail, NewLink, NewPasskey, NewSession, NewStepUp, NewTotp,
        NewUser, Page, PasskeyRecord, Rotation, SecondFactors, SessionRecord, StepUpRecord, Store,
        StoreError, StoreResult, StoredSigningKey, UserChange, UserQuery, UserRecord,
    },
};

/// How often an audit insert draws a new id after a clash before giving up.
const AUDIT_ID_DRAWS: usize = 3;

#[async_trait]
impl Store for MongoStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.indexed().await?;
        let doc = UserDoc::from(&user);
        match self.users.insert_one(&doc).await.map_err(map_error) {
            Ok(_) => Ok(doc.into()),
            Err(StoreError::Conflict(_)) => Err(self.which_conflict(&user).await),
            Err(other) => Err(other),
        }
    }

    /// Made under the admin lease, like every change that decides how many admins there
    /// are: of several instances starting at once exactly one creates its admin, and one
    /// that failed to insert its user (a taken name, a lost connection) leaves the way
    /// open for the next.
    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        let lease = self.admin_lease().await?;
        let outcome = match self.any_admin().await {
            Ok(false) => {
                let admin = NewUser {
                    role: Role::Admin,
                    ..user
                };
                self.create_user(admin).await.map(Some)
            }
            Ok(true) => Ok(None),
            Err(error) => Err(error),
        };
        lease.release().await;
        outcome
    }

    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        Ok(self
            .users
            .find_one(doc! {"username_key": key})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        Ok(self
            .users
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()> {
        self.indexed().await?;
        let result = self
            .users
            .update_one(
                doc! {"_id": user_id},
                doc! {"$set": {"password_hash": hash.as_str()}},
            )
            .await
            .map_err(map_error)?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        self.delete_links(user_id, LinkPurpose::ResetPassword).await
    }

    async fn user_by_email_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        Ok(self
            .users
            .find_one(doc! {"email_key": key})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord> {
        self.indexed().await?;
        let update = match email {
            Some(email) => doc! {
                "$set": {"email": &email.address, "email_key": &email.key, "email_verified": false},
            },
            None => doc! {
                "$set": {"email": Bson::Null, "email_verified": false},
                "$unset": {"email_key": ""},
            },
        };
        let updated = self
            .users
            .find_one_and_update(doc! {"_id": user_id}, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("email"),
                other => other,
            })?
            .ok_or(StoreError::NotFound)?;
        self.delete_links(user_id, LinkPurpose::VerifyEmail).await?;
        Ok(updated.into())
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>> {
        self.indexed().await?;
        let filter = match &query.search {
            Some(search) => doc! {"username_key": {
                "$regex": literal_regex(&search.to_lowercase()),
            }},
            None => doc! {},
        };
        let total = self
            .users
            .count_documents(filter.clone())
            .await
            .map_err(map_error)?;
        let items = page_of(
            &self.users,
            filter,
            doc! {"created_at": 1, "_id": 1},
            (query.offset, query.limit),
            total,
        )
        .await?;
        Ok(Page {
            items: items.into_iter().map(Into::into).collect(),
            total,
        })
    }

    /// A change that could leave no active admin is decided under the admin lease: the
    /// other active admins are counted first and the change is made only if one remains,
    /// so two demotions at once cannot both pass and no moment without an admin exists.
    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord> {
        self.indexed().await?;
        let could_remove_an_admin =
            change.role == Some(Role::User) || change.disabled == Some(true);
        if !could_remove_an_admin {
            // A promotion or re-enabling: remembered answers hold the old role.
            let changed = self.apply_user_change(user_id, change).await?;
            self.append_revocation("user").await?;
            return Ok(changed);
        }
        let lease = self.admin_lease().await?;
        let outcome = self.change_keeping_an_admin(user_id, change).await;
        lease.release().await;
        let changed = outcome?;
        self.append_revocation("user").await?;
        Ok(changed)
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.indexed().await?;
        let doc = SessionDoc {
            id: session.id,
            user_id: session.user_id,
            created_at: session.created_at,
            last_used_at: session.created_at,
            expires_at: session.expires_at,
            expires_on: date(session.expires_at),
            revoked_at: None,
            user_agent: session.user_agent,
            ip: session.ip,
            current_refresh: session.refresh_hash.as_str().to_owned(),
            previous_refresh: Vec::new(),
        };
        self.sessions.insert_one(&doc).await.map_err(map_error)?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        presented: &RefreshHash,
        successor: &RefreshHash,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> StoreResult<Rotation> {
        self.indexed().await?;
        let current = self
            .sessions
            .find_one(rotation_filter(presented.as_str(), now))
            .await
            .map_err(map_error)?;
        if let Some(session) = current {
            // The account is checked before anything changes, as on the embedded store: a
            // disabled user's token is refused and stays as it was.
            let Some(user) = self.enabled_user(&session.user_id).await? else {
                return Ok(Rotation::Invalid);
            };
            // Remembered before it is superseded, so that no moment exists in which the
            // token is neither current nor known to be spent.
            self.remember_superseded(presented, &session).await?;
            let rotated = self
                .sessions
                .find_one_and_update(
                    rotation_filter(presented.as_str(), now),
                    rotation_update(presented.as_str(), successor.as_str(), now, new_expires_at),
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(map_error)?;
            if let Some(rotated) = rotated {
                return Ok(Rotation::Rotated {
                    session: Box::new(rotated.into()),
                    user: Box::new(user),
                });
            }
            // Another request rotated it first: answered below like any replay.
        }
        // Not current, but maybe superseded a moment ago by this very successor: a
        // request that raced the rotation gets the same answer.
        if grace_secs > 0 {
            let raced = self
                .sessions
                .find_one(grace_filter(
                    presented.as_str(),
                    successor.as_str(),
                    now,
                    grace_secs,
                ))
                .await
                .map_err(map_error)?;
            if let Some(session) = raced {
                return Ok(match self.enabled_user(&session.user_id).await? {
                    Some(user) => Rotation::Rotated {
                        session: Box::new(session.into()),
                        user: Box::new(user),
                    },
                    None => Rotation::Invalid,
                });
            }
        }
        let Some(session) = self.session_that_superseded(presented).await? else {
            return Ok(Rotation::Invalid);
        };
        self.sessions
            .update_one(
                doc! {"_id": &session.id, "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        self.append_revocation("reuse").await?;
        Ok(Rotation::Reused {
            session_id: session.id,
            user_id: session.user_id,
        })
    }

    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        self.indexed().await?;
        Ok(self
            .sessions
            .find_one(rotation_filter(presented.as_str(), now))
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>> {
        self.indexed().await?;
        let sessions: Vec<SessionDoc> = self
            .sessions
            .find(doc! {"user_id": user_id, "revoked_at": Bson::Null, "expires_at": {"$gt": now}})
            .sort(doc! {"created_at": -1, "_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(sessions.into_iter().map(Into::into).collect())
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str, now: i64) -> StoreResult<bool> {
        self.indexed().await?;
        let result = self
            .sessions
            .update_one(
                doc! {"_id": session_id, "user_id": user_id, "revoked_at": Bson::Null, "expires_at": {"$gt": now}},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        let revoked = result.modified_count > 0;
        if revoked {
            self.append_revocation("session").await?;
        }
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        self.indexed().await?;
        let mut filter = doc! {"user_id": user_id, "revoked_at": Bson::Null};
        if let Some(keep) = keep {
            filter.insert("_id", doc! {"$ne": keep});
        }
        let result = self
            .sessions
            .update_many(filter, doc! {"$set": {"revoked_at": now}})
            .await
            .map_err(map_error)?;
        if result.modified_count > 0 {
            self.append_revocation("sessions").await?;
        }
        Ok(result.modified_count)
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.indexed().await?;
        self.revoked
            .update_one(
                doc! {"_id": jti},
                doc! {"$max": {"expires_at": expires_at, "expires_on": date(expires_at)}},
            )
            .upsert(true)
            .await
            .map_err(map_error)?;
        self.append_revocation("token").await
    }

    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>> {
        self.indexed().await?;
        let (revoked, session, user) = tokio::join!(
            self.revoked.find_one(doc! {"_id": jti}),
            self.sessions
                .find_one(doc! {"_id": session_id, "user_id": user_id}),
            self.users.find_one(doc! {"_id": user_id}),
        );
        let (Some(session), Some(user)) = (session.map_err(map_error)?, user.map_err(map_error)?)
        else {
            return Ok(None);
        };
        Ok(Some(AccessFacts {
            jti_revoked: revoked.map_err(map_error)?.is_some(),
            session_revoked: session.revoked_at.is_some(),
            session_expires_at: session.expires_at,
            user_disabled: user.disabled,
            role: user.role,
            username: user.username,
        }))
    }

    async fn revocation_position(&self) -> StoreResult<u64> {
        self.indexed().await?;
        self.read_revocation_position().await
    }

    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.indexed().await?;
        let mut doc = AuditDoc {
            id: self.audit_ids.next(),
            at: event.at,
            at_date: date(event.at),
            kind: event.kind.to_owned(),
            user_id: event.user_id,
            username: event.username,
            ip: event.ip,
            user_agent: event.user_agent,
            detail: event.detail,
        };
        // Another instance drew the same id in the same millisecond: draw again.
        for _ in 0..AUDIT_ID_DRAWS {
            match self.audit.insert_one(&doc).await.map_err(map_error) {
                Err(StoreError::Conflict(_)) => doc.id = self.audit_ids.next(),
                outcome => return outcome.map(drop),
            }
        }
        Err(StoreError::Conflict("audit id"))
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
        self.indexed().await?;
        let mut filter = Document::new();
        if let Some(kind) = &query.kind {
            filter.insert("kind", kind.as_str());
        }
        if let Some(user_id) = &query.user_id {
            filter.insert("user_id", user_id.as_str());
        }
        let total = self
            .audit
            .count_documents(filter.clone())
            .await
            .map_err(map_error)?;
        let events = page_of(
            &self.audit,
            filter,
            doc! {"_id": -1},
            (query.offset, query.limit),
            total,
        )
        .await?;
        Ok(Page {
            items: events
                .into_iter()
                .map(|event| AuditRecord {
                    id: event.id,
                    at: event.at,
                    kind: event.kind,
                    user_id: event.user_id,
                    username: event.username,
                    ip: event.ip,
                    user_agent: event.user_agent,
                    detail: event.detail,
                })
                .collect(),
            total,
        })
    }

    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.indexed().await?;
        let doc = KeyDoc {
            kid: candidate.kid,
            algorithm: candidate.algorithm.clone(),
            private_der: binary(candidate.private_der),
            public_raw: binary(candidate.public_raw),
            created_at: candidate.created_at,
        };
        match self.keys.insert_one(&doc).await.map_err(map_error) {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        let stored = self
            .keys
            .find_one(doc! {"algorithm": &candidate.algorithm})
            .await
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)?;
        Ok(StoredSigningKey {
            kid: stored.kid,
            algorithm: stored.algorithm,
            private_der: stored.private_der.bytes,
            public_raw: stored.public_raw.bytes,
            created_at: stored.created_at,
        })
    }

    async fn create_link(&self, link: NewLink) -> StoreResult<()> {
        self.indexed().await?;
        self.links
            .insert_one(LinkDoc::from(&link))
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn find_link(
        &self,
        hash: &LinkHash,
        purpose: LinkPurpose,
        now: i64,
    ) -> StoreResult<Option<LinkRecord>> {
        self.indexed().await?;
        Ok(self
            .links
            .find_one(live_link(hash, purpose, now))
            .await
            .map_err(map_error)?
            .and_then(LinkDoc::record))
    }

    /// Deleting the link is what uses it: of several callers one gets the document.
    async fn use_verification_link(
        &self,
        hash: &LinkHash,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        let Some(link) = self
            .links
            .find_one_and_delete(live_link(hash, LinkPurpose::VerifyEmail, now))
            .await
            .map_err(map_error)?
        else {
            return Ok(None);
        };
        Ok(self
            .users
            .find_one_and_update(
                doc! {"_id": &link.user_id, "email": &link.email},
                doc! {"$set": {"email_verified": true}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    /// Not one transaction (servers without them are supported): the link is taken first,
    /// so at most one caller goes on; then the password, the other links, the sessions.
    async fn use_reset_link(
        &self,
        hash: &LinkHash,
        new_hash: &PasswordHashString,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        let Some(link) = self
            .links
            .find_one_and_delete(live_link(hash, LinkPurpose::ResetPassword, now))
            .await
            .map_err(map_error)?
        else {
            return Ok(None);
        };
        let Some(user) = self
            .users
            .find_one_and_update(
                doc! {"_id": &link.user_id},
                doc! {"$set": {"password_hash": new_hash.as_str()}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?
        else {
            return Ok(None);
        };
        self.delete_links(&link.user_id, LinkPurpose::ResetPassword)
            .await?;
        self.sessions
            .update_many(
                doc! {"user_id": &link.user_id, "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        self.append_revocation("reset").await?;
        Ok(Some(user.into()))
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.indexed().await?;
        // The TTL indexes do this within a minute anyway; this keeps both stores alike.
        let links = self
            .links
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        let tickets = self
            .step_ups
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        let ceremonies = self
            .ceremonies
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        let revoked = self
            .revoked
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        let superseded = self
            .superseded
            .delete_many(doc! {"expires_on": {"$lte": date(now)}})
            .await
            .map_err(map_error)?;
        let sessions = self
            .sessions
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        // Tickets refuse no token: their removal alone is no revocation.
        let removed = links.deleted_count
            + revoked.deleted_count
            + superseded.deleted_count
            + sessions.deleted_count;
        if removed > 0 {
            self.append_revocation("purge").await?;
        }
        Ok(removed + tickets.deleted_count + ceremonies.deleted_count)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.indexed().await?;
        self.database
            .run_command(doc! {"ping": 1})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn second_factors(&self, user_id: &str) -> StoreResult<SecondFactors> {
        self.indexed().await?;
        Ok(self
            .factors
            .find_one(doc! {"_id": user_id})
            .await
            .map_err(map_error)?
            .map(FactorDoc::factors)
            .unwrap_or_default())
    }

    async fn begin_totp(&self, enrolment: NewTotp) -> StoreResult<()> {
        self.indexed().await?;
        let filter = doc! {"_id": &enrolment.user_id, "confirmed_at": Bson::Null};
        let update = doc! {"$set": {
            "sealed_secret": &enrolment.sealed_secret,
            "sealed_recovery_codes": &enrolment.sealed_recovery_codes,
            "confirmed_at": Bson::Null,
            "last_used_step": 0_i64,
            "created_at": enrolment.created_at,
            "recovery_codes": [],
        }};
        // With a confirmed factor the filter matches nothing and the upsert's insert hits
        // the `_id`: a duplicate key. So does the loser of two first enrolments at once,
        // which then finds the winner's unconfirmed document and replaces it.
        match self
            .factors
            .update_one(filter.clone(), update.clone())
            .upsert(true)
            .await
            .map_err(map_error)
        {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                let replaced = self
                    .factors
                    .update_one(filter, update)
                    .await
                    .map_err(map_error)?;
                if replaced.matched_count == 1 {
                    Ok(())
                } else {
                    Err(StoreError::Conflict("totp"))
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: i64,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let codes: Vec<&str> = recovery_codes
            .iter()
            .map(RecoveryCodeHash::as_str)
            .collect();
        let confirmed = self
            .factors
            .update_one(
                doc! {"_id": user_id, "confirmed_at": Bson::Null},
                doc! {"$set": {
                    "confirmed_at": now,
                    "last_used_step": step,
                    "sealed_recovery_codes": Bson::Null,
                    "recovery_codes": codes,
                }},
            )
            .await
            .map_err(map_error)?;
        Ok(confirmed.matched_count == 1)
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        resealed: Option<&str>,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let mut set = doc! {"last_used_step": step};
        if let Some(resealed) = resealed {
            set.insert("sealed_secret", resealed);
        }
        let used = self
            .factors
            .update_one(
                doc! {
                    "_id": user_id,
                    "confirmed_at": {"$ne": Bson::Null},
                    "last_used_step": {"$lt": step},
                },
                doc! {"$set": set},
            )
            .await
            .map_err(map_error)?;
        Ok(used.matched_count == 1)
    }

    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool> {
        self.indexed().await?;
        let used = self
            .factors
            .update_one(
                doc! {"_id": user_id, "recovery_codes": code.as_str()},
                doc! {"$pull": {"recovery_codes": code.as_str()}},
            )
            .await
            .map_err(map_error)?;
        Ok(used.modified_count == 1)
    }

    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool> {
        self.indexed().await?;
        let removed = self
            .factors
            .delete_one(doc! {"_id": user_id})
            .await
            .map_err(map_error)?;
        Ok(removed.deleted_count == 1)
    }

    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()> {
        self.indexed().await?;
        self.step_ups
            .insert_one(StepUpDoc::from(&ticket))
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        self.indexed().await?;
        Ok(self
            .step_ups
            .find_one(doc! {"_id": hash.as_str(), "expires_at": {"$gt": now}})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()> {
        self.indexed().await?;
        self.passkeys
            .insert_one(PasskeyDoc::from(&passkey))
            .await
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("passkey"),
                other => other,
            })?;
        Ok(())
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        self.indexed().await?;
        let found: Vec<PasskeyDoc> = self
            .passkeys
            .find(doc! {"user_id": user_id})
            .sort(doc! {"created_at": 1, "_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        self.indexed().await?;
        Ok(self
            .passkeys
            .find_one(doc! {"_id": credential_id})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let updated = self
            .passkeys
            .update_one(
                doc! {"_id": credential_id},
                doc! {"$set": {"passkey": passkey, "last_used_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(updated.matched_count == 1)
    }

    async fn remove_passkeys(
        &self,
        user_id: &str,
        credential_id: Option<&str>,
    ) -> StoreResult<u64> {
        self.indexed().await?;
        let mut filter = doc! {"user_id": user_id};
        if let Some(credential_id) = credential_id {
            filter.insert("_id", credential_id);
        }
        let removed = self.passkeys.delete_many(filter).await.map_err(map_error)?;
        Ok(removed.deleted_count)
    }

    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()> {
        self.indexed().await?;
        self.ceremonies
            .insert_one(CeremonyDoc::from(&ceremony))
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// Deleting the ceremony is what uses it: of several callers one gets the document.
    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        self.indexed().await?;
        Ok(self
            .ceremonies
            .find_one_and_delete(doc! {
                "_id": hash.as_str(),
                "purpose": purpose.as_str(),
                "expires_at": {"$gt": now},
            })
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    /// Deleting the ticket is what uses it: of several callers one gets the document.
    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        self.indexed().await?;
        Ok(self
            .step_ups
            .find_one_and_delete(doc! {"_id": hash.as_str(), "expires_at": {"$gt": now}})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }
}

/// One page of `filter`'s matches, of which there are `total`. A page past the end asks
/// the server nothing: `skip` would walk every document to get there.
async fn page_of<T>(
    collection: &Collection<T>,
    filter: Document,
    sort: Document,
    (offset, limit): (u64, u64),
    total: u64,
) -> StoreResult<Vec<T>>
where
    T: DeserializeOwned + Send + Sync,
{
    if offset >= total {
        return Ok(Vec::new());
    }
    collection
        .find(filter)
        .sort(sort)
        .skip(offset)
        // The driver's limit is signed; a page is at most a hundred rows long anyway.
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(map_error)?
        .try_collect()
        .await
        .map_err(map_error)
}

fn live_link(hash: &LinkHash, purpose: LinkPurpose, now: i64) -> Document {
    doc! {"_id": hash.as_str(), "purpose": purpose.as_str(), "expires_at": {"$gt": now}}
}

impl MongoStore {
    async fn change_keeping_an_admin(
        &self,
        user_id: &str,
        change: &UserChange,
    ) -> StoreResult<UserRecord> {
        let user = self
            .user_by_id(user_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let active_admin_now = user.role == Role::Admin && !user.disabled;
        let active_admin_after = change.role.unwrap_or(user.role) == Role::Admin
            && !change.disabled.unwrap_or(user.disabled);
        if active_admin_now && !active_admin_after {
            let others = self
                .users
                .count_documents(doc! {"role": "admin", "disabled": false, "_id": {"$ne": user_id}})
                .await
                .map_err(map_error)?;
            if others == 0 {
                return Err(StoreError::LastAdmin);
            }
        }
        self.apply_user_change(user_id, change).await
    }

    async fn apply_user_change(
        &self,
        user_id: &str,
        change: &UserChange,
    ) -> StoreResult<UserRecord> {
        let mut set = Document::new();
        if let Some(role) = change.role {
            set.insert("role", role.as_str());
        }
        if let Some(disabled) = change.disabled {
            set.insert("disabled", disabled);
        }
        if set.is_empty() {
            return self.user_by_id(user_id).await?.ok_or(StoreError::NotFound);
        }
        Ok(self
            .users
            .find_one_and_update(doc! {"_id": user_id}, doc! {"$set": set})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)?
            .into())
    }

    async fn any_admin(&self) -> StoreResult<bool> {
        Ok(self
            .users
            .find_one(doc! {"role": "admin"})
            .await
            .map_err(map_error)?
            .is_some())
    }

    async fn enabled_user(&self, user_id: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .user_by_id(user_id)
            .await?
            .filter(|user| !user.disabled))
    }

    /// Records a refresh token as spent until it would have expired anyway. Idempotent:
    /// every request racing to rotate the same token writes the same document.
    async fn remember_superseded(
        &self,
        presented: &RefreshHash,
        session: &SessionDoc,
    ) -> StoreResult<()> {
        let outcome = self
            .superseded
            .update_one(
                doc! {"_id": presented.as_str()},
                doc! {"$setOnInsert": {
                    "session_id": &session.id,
                    "user_id": &session.user_id,
                    "expires_on": date(session.expires_at),
                }},
            )
            .upsert(true)
            .await
            .map_err(map_error);
        match outcome {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// The session whose refresh token `presented` was before a rotation: a replay.
    /// `None` for a hash never issued, and for one that is still its session's current
    /// token (remembered just before a rotation that did not happen, because the session
    /// had ended).
    async fn session_that_superseded(
        &self,
        presented: &RefreshHash,
    ) -> StoreResult<Option<SessionDoc>> {
        let spent = self
            .superseded
            .find_one(doc! {"_id": presented.as_str()})
            .await
            .map_err(map_error)?;
        let filter = match spent {
            Some(spent) => doc! {"_id": spent.session_id},
            // Sessions rotated before `superseded_refresh` existed keep their last hashes.
            None => doc! {"previous_refresh": presented.as_str()},
        };
        Ok(self
            .sessions
            .find_one(filter)
            .await
            .map_err(map_error)?
            .filter(|session| session.current_refresh != presented.as_str()))
    }

    async fn delete_links(&self, user_id: &str, purpose: LinkPurpose) -> StoreResult<()> {
        self.links
            .delete_many(doc! {"user_id": user_id, "purpose": purpose.as_str()})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// Which unique index refused a new user, asked of the data rather than read from the
    /// server's message.
    async fn which_conflict(&self, user: &NewUser) -> StoreError {
        if let Some(email) = &user.email
            && let Ok(Some(holder)) = self.user_by_email_key(&email.key).await
            && holder.username_key != user.username_key
        {
            return StoreError::Conflict("email");
        }
        StoreError::Conflict("username")
    }
}
