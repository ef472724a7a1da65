//! Sessions and refresh tokens on MongoDB: one conditional `find_one_and_update`
//! per rotation; every superseded hash is kept for reuse detection.

use super::documents::{SessionDoc, date};
use super::queries::{grace_filter, rotation_filter, rotation_update};
use super::revocation_log::{a_replay_or_a_failure, every_outcome};
use super::{MongoStore, map_error};
use crate::domain::{RefreshHash, SignInMethod};
use crate::store::{
    NewSession, Rotation, SessionAuthentication, SessionRecord, SessionStore, StoreError,
    StoreResult, UserRecord, UserStore,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

#[async_trait]
impl SessionStore for MongoStore {
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
            authenticated_at: None,
            second_factor: session.sign_in.is_multi_factor(),
            sign_in_method: session.sign_in.stored().map(str::to_owned),
            client_id: session.grant.as_ref().map(|grant| grant.client_id.clone()),
            scope: session.grant.map(|grant| grant.scope),
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
        let store = self.clone();
        let presented = presented.clone();
        let successor = successor.clone();
        self.to_the_end(a_replay_or_a_failure, async move {
            let presented = &presented;
            let successor = &successor;
            store.indexed().await?;
            let current = store
                .sessions
                .find_one(rotation_filter(presented.as_str(), now))
                .await
                .map_err(map_error)?;
            if let Some(session) = current {
                // The account is checked before anything changes, as on the embedded store: a
                // disabled user's token is refused and stays as it was.
                let Some(user) = store.enabled_user(&session.user_id).await? else {
                    return Ok(Rotation::Invalid);
                };
                // Remembered before it is superseded, so that no moment exists in which the
                // token is neither current nor known to be spent.
                store.remember_superseded(presented, &session).await?;
                let rotated = store
                    .sessions
                    .find_one_and_update(
                        rotation_filter(presented.as_str(), now),
                        rotation_update(
                            presented.as_str(),
                            successor.as_str(),
                            now,
                            new_expires_at,
                        ),
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
                let raced = store
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
                    return Ok(match store.enabled_user(&session.user_id).await? {
                        Some(user) => Rotation::Rotated {
                            session: Box::new(session.into()),
                            user: Box::new(user),
                        },
                        None => Rotation::Invalid,
                    });
                }
            }
            let Some(session) = store.session_that_superseded(presented).await? else {
                return Ok(Rotation::Invalid);
            };
            store
                .revoking("reuse", |_| true, async {
                    store
                        .sessions
                        .update_one(
                            doc! {"_id": &session.id, "revoked_at": Bson::Null},
                            doc! {"$set": {"revoked_at": now}},
                        )
                        .await
                        .map_err(map_error)
                })
                .await?;
            Ok(Rotation::Reused {
                session_id: session.id,
                user_id: session.user_id,
            })
        })
        .await
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
        let store = self.clone();
        let user_id = user_id.to_owned();
        let session_id = session_id.to_owned();
        self.to_the_end(every_outcome, async move {
            let user_id = user_id.as_str();
            let session_id = session_id.as_str();
            store.indexed().await?;
            let revoked = store
                .revoking("session", |revoked| *revoked, async {
                    let result = store
                        .sessions
                        .update_one(
                            live_session(user_id, session_id, now),
                            doc! {"$set": {"revoked_at": now}},
                        )
                        .await
                        .map_err(map_error)?;
                    store.fault("session: revoked")?;
                    Ok(result.modified_count > 0)
                })
                .await?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let mut filter = doc! {"user_id": user_id, "revoked_at": Bson::Null};
        if let Some(keep) = keep {
            filter.insert("_id", doc! {"$ne": keep});
        }
        self.revoke_live_sessions(filter, now).await
    }

    async fn revoke_client_sessions(&self, client_id: &str, now: i64) -> StoreResult<u64> {
        self.revoke_live_sessions(doc! {"client_id": client_id, "revoked_at": Bson::Null}, now)
            .await
    }

    async fn session_authentication(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<SessionAuthentication>> {
        self.indexed().await?;
        let session = self
            .sessions
            .find_one(live_session(user_id, session_id, now))
            .await
            .map_err(map_error)?;
        Ok(session.map(|session| SessionAuthentication {
            at: session
                .authenticated_at
                .map_or(session.created_at, |at| at.max(session.created_at)),
            method: SignInMethod::from_stored(
                session.sign_in_method.as_deref(),
                session.second_factor,
            ),
        }))
    }

    async fn mark_session_authenticated(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        // `$max` keeps the later of two re-entries that race; a match that changes nothing
        // (the same second) is still a live session.
        let result = self
            .sessions
            .update_one(
                live_session(user_id, session_id, now),
                doc! {"$max": {"authenticated_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(result.matched_count > 0)
    }

    async fn jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.indexed().await?;
        let found = self
            .revoked
            .count_documents(doc! {"_id": jti})
            .limit(1)
            .await
            .map_err(map_error)?;
        Ok(found > 0)
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let store = self.clone();
        let jti = jti.to_owned();
        self.to_the_end(every_outcome, async move {
            let jti = jti.as_str();
            store.indexed().await?;
            store
                .revoking("token", |_| true, async {
                    store
                        .revoked
                        .update_one(
                            doc! {"_id": jti},
                            doc! {"$max": {"expires_at": expires_at, "expires_on": date(expires_at)}},
                        )
                        .upsert(true)
                        .await
                        .map_err(map_error)?;
                    Ok(())
                })
                .await
        })
        .await
    }
}

impl MongoStore {
    /// Revokes the live sessions `filter` picks as one revoking write, carried to its end
    /// whatever happens to the request that started it.
    async fn revoke_live_sessions(&self, filter: Document, now: i64) -> StoreResult<u64> {
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store.indexed().await?;
            store
                .revoking("sessions", |revoked| *revoked > 0, async {
                    let result = store
                        .sessions
                        .update_many(filter, doc! {"$set": {"revoked_at": now}})
                        .await
                        .map_err(map_error)?;
                    Ok(result.modified_count)
                })
                .await
        })
        .await
    }

    pub(super) async fn enabled_user(&self, user_id: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .user_by_id(user_id)
            .await?
            .filter(|user| !user.disabled))
    }

    /// Records a refresh token as spent until it would have expired anyway. Idempotent:
    /// every request racing to rotate the same token writes the same document.
    pub(super) async fn remember_superseded(
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
    pub(super) async fn session_that_superseded(
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
}

fn live_session(user_id: &str, session_id: &str, now: i64) -> mongodb::bson::Document {
    doc! {"_id": session_id, "user_id": user_id, "revoked_at": Bson::Null, "expires_at": {"$gt": now}}
}
