//! The MongoDB store, chosen when the database URL is `mongodb://…` or `mongodb+srv://…`.
//!
//! Written against the `mongodb` 3.x driver's documentation; no MongoDB server can be
//! installed on the machines this was built on, so the document mapping, the filters and
//! updates, and the index specifications are unit-tested here, and the storage contract
//! suite runs against a live server whenever `MONGODB_URI` is set.
//!
//! Races are settled by the server, one document at a time:
//! - usernames: a unique index on `username_key` (duplicate key 11000 → `Conflict`);
//! - refresh rotation: ONE `find_one_and_update` whose filter requires the presented hash
//!   to still be the session's current one; only one caller can match it. The last
//!   superseded hashes stay in the session (`previous_refresh`, a multikey index) so a
//!   replay is recognised and ends the session;
//! - expiry: TTL indexes remove expired sessions and revocations by themselves.

use std::time::Duration;

use app::model::Role;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    Client, Collection, Database, IndexModel,
    bson::{self, Bson, DateTime, Document, doc, spec::BinarySubtype},
    error::{ErrorKind, WriteFailure},
    options::{ClientOptions, IndexOptions, ReturnDocument},
};
use serde::{Deserialize, Serialize};

use super::{
    AccessStatus, AuditQuery, AuditRecord, NewAuditEvent, NewSession, NewUser, Page, Rotation,
    SessionRecord, Store, StoreError, StoreResult, StoredSigningKey, UserChange, UserQuery,
    UserRecord,
};
use crate::auth::{password::PasswordHashString, token::RefreshHash};

const DUPLICATE_KEY: i32 = 11_000;
/// How many superseded refresh hashes a session remembers for reuse detection.
const REMEMBERED_REFRESH_HASHES: i32 = 50;
/// Audit events are kept this long, then the TTL index removes them.
const AUDIT_RETENTION: Duration = Duration::from_secs(180 * 24 * 3600);
const DEFAULT_DATABASE: &str = "gatehouse";

pub fn is_mongodb_url(url: &str) -> bool {
    url.starts_with("mongodb://") || url.starts_with("mongodb+srv://")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// The same instant as a BSON date: what the TTL index reads.
    pub expires_on: DateTime,
    pub revoked_at: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub current_refresh: String,
    #[serde(default)]
    pub previous_refresh: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RevokedDoc {
    #[serde(rename = "_id")]
    jti: String,
    expires_at: i64,
    expires_on: DateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AuditDoc {
    #[serde(rename = "_id")]
    id: i64,
    at: i64,
    at_date: DateTime,
    kind: String,
    user_id: Option<String>,
    username: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyDoc {
    #[serde(rename = "_id")]
    kid: String,
    algorithm: String,
    private_der: bson::Binary,
    public_raw: bson::Binary,
    created_at: i64,
}

impl From<UserDoc> for UserRecord {
    fn from(doc: UserDoc) -> Self {
        UserRecord {
            id: doc.id,
            username: doc.username,
            username_key: doc.username_key,
            email: doc.email,
            password_hash: PasswordHashString::from_stored(doc.password_hash),
            role: doc.role,
            disabled: doc.disabled,
            created_at: doc.created_at,
        }
    }
}

impl From<&NewUser> for UserDoc {
    fn from(user: &NewUser) -> Self {
        UserDoc {
            id: user.id.clone(),
            username: user.username.clone(),
            username_key: user.username_key.clone(),
            email: user.email.clone(),
            password_hash: user.password_hash.as_str().to_owned(),
            role: user.role,
            disabled: false,
            created_at: user.created_at,
        }
    }
}

impl From<SessionDoc> for SessionRecord {
    fn from(doc: SessionDoc) -> Self {
        SessionRecord {
            id: doc.id,
            user_id: doc.user_id,
            created_at: doc.created_at,
            last_used_at: doc.last_used_at,
            expires_at: doc.expires_at,
            revoked_at: doc.revoked_at,
            user_agent: doc.user_agent,
            ip: doc.ip,
        }
    }
}

fn date(unix_secs: i64) -> DateTime {
    DateTime::from_millis(unix_secs.saturating_mul(1000))
}

fn binary(bytes: Vec<u8>) -> bson::Binary {
    bson::Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

/// The index every query relies on, created idempotently at start.
pub fn index_specs() -> Vec<(&'static str, IndexModel)> {
    let unique = |name: &str| {
        IndexOptions::builder()
            .unique(true)
            .name(name.to_owned())
            .build()
    };
    let ttl = |name: &str, after: Duration| {
        IndexOptions::builder()
            .expire_after(after)
            .name(name.to_owned())
            .build()
    };
    let plain = |name: &str| IndexOptions::builder().name(name.to_owned()).build();
    let index = |keys: Document, options: IndexOptions| {
        IndexModel::builder().keys(keys).options(options).build()
    };
    vec![
        (
            "users",
            index(doc! {"username_key": 1}, unique("username_key_unique")),
        ),
        (
            "users",
            index(doc! {"role": 1, "disabled": 1}, plain("active_admins")),
        ),
        (
            "sessions",
            index(
                doc! {"current_refresh": 1},
                unique("current_refresh_unique"),
            ),
        ),
        (
            "sessions",
            index(doc! {"previous_refresh": 1}, plain("previous_refresh")),
        ),
        (
            "sessions",
            index(doc! {"user_id": 1}, plain("sessions_by_user")),
        ),
        (
            "sessions",
            index(doc! {"expires_on": 1}, ttl("sessions_ttl", Duration::ZERO)),
        ),
        (
            "revoked_tokens",
            index(doc! {"expires_on": 1}, ttl("revoked_ttl", Duration::ZERO)),
        ),
        (
            "audit_events",
            index(doc! {"at_date": 1}, ttl("audit_retention", AUDIT_RETENTION)),
        ),
        (
            "audit_events",
            index(doc! {"kind": 1, "_id": -1}, plain("audit_by_kind")),
        ),
        (
            "signing_keys",
            index(doc! {"algorithm": 1}, unique("one_key_per_algorithm")),
        ),
    ]
}

/// The filter that matches a session only while `presented` is its current refresh
/// token: the one condition that lets exactly one rotation win.
pub fn rotation_filter(presented: &str, now: i64) -> Document {
    doc! {
        "current_refresh": presented,
        "revoked_at": Bson::Null,
        "expires_at": {"$gt": now},
    }
}

pub fn rotation_update(presented: &str, successor: &str, now: i64, expires_at: i64) -> Document {
    doc! {
        "$set": {
            "current_refresh": successor,
            "last_used_at": now,
            "expires_at": expires_at,
            "expires_on": date(expires_at),
        },
        "$push": {
            "previous_refresh": {"$each": [presented], "$slice": -REMEMBERED_REFRESH_HASHES},
        },
    }
}

/// User input is matched literally: every regex metacharacter is escaped.
pub fn literal_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Maps the driver's errors by code and kind, never by message text.
fn map_error(error: mongodb::error::Error) -> StoreError {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == DUPLICATE_KEY => {
            StoreError::Conflict("already exists")
        }
        ErrorKind::Command(command) if command.code == DUPLICATE_KEY => {
            StoreError::Conflict("already exists")
        }
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Unexpected(error.to_string()),
    }
}

fn unexpected(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(error.to_string())
}

#[derive(Clone)]
pub struct MongoStore {
    database: Database,
    users: Collection<UserDoc>,
    sessions: Collection<SessionDoc>,
    revoked: Collection<RevokedDoc>,
    audit: Collection<AuditDoc>,
    keys: Collection<KeyDoc>,
    counters: Collection<Document>,
    guards: Collection<Document>,
}

impl MongoStore {
    /// Connects with short timeouts (a down database answers 503 within ~2 s and the
    /// driver reconnects by itself) and creates the indexes.
    pub async fn connect(url: &str, database_override: Option<&str>) -> StoreResult<MongoStore> {
        let mut options = ClientOptions::parse(url).await.map_err(map_error)?;
        options.app_name = Some("gatehouse".to_owned());
        options.server_selection_timeout = Some(Duration::from_secs(2));
        options.connect_timeout = Some(Duration::from_secs(2));
        options.retry_writes = Some(true);
        let name = database_override
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client = Client::with_options(options).map_err(map_error)?;
        let database = client.database(&name);
        let store = MongoStore {
            users: database.collection("users"),
            sessions: database.collection("sessions"),
            revoked: database.collection("revoked_tokens"),
            audit: database.collection("audit_events"),
            keys: database.collection("signing_keys"),
            counters: database.collection("counters"),
            guards: database.collection("guards"),
            database,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        for (collection, index) in index_specs() {
            self.database
                .collection::<Document>(collection)
                .create_index(index)
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    /// Drops the whole database (tests run each in a fresh one).
    pub async fn drop_database(&self) -> StoreResult<()> {
        self.database.drop().await.map_err(map_error)
    }

    async fn next_audit_id(&self) -> StoreResult<i64> {
        let counter = self
            .counters
            .find_one_and_update(doc! {"_id": "audit_events"}, doc! {"$inc": {"seq": 1_i64}})
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?
            .ok_or_else(|| unexpected("the audit counter was not returned"))?;
        counter.get_i64("seq").map_err(unexpected)
    }

    async fn active_admins(&self) -> StoreResult<u64> {
        self.users
            .count_documents(doc! {"role": "admin", "disabled": false})
            .await
            .map_err(map_error)
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        let doc = UserDoc::from(&user);
        self.users
            .insert_one(&doc)
            .await
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("username"),
                other => other,
            })?;
        Ok(doc.into())
    }

    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>> {
        if self
            .users
            .count_documents(doc! {"role": "admin"})
            .await
            .map_err(map_error)?
            > 0
        {
            return Ok(None);
        }
        // Several servers starting at once: the unique _id of a guard lets one through.
        match self.guards.insert_one(doc! {"_id": "first_admin"}).await {
            Ok(_) => {}
            Err(error) => {
                return match map_error(error) {
                    StoreError::Conflict(_) => Ok(None),
                    other => Err(other),
                };
            }
        }
        let admin = NewUser {
            role: Role::Admin,
            ..user
        };
        self.create_user(admin).await.map(Some)
    }

    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .users
            .find_one(doc! {"username_key": key})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .users
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()> {
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
        Ok(())
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>> {
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
        let items: Vec<UserDoc> = self
            .users
            .find(filter)
            .sort(doc! {"created_at": 1, "_id": 1})
            .skip(query.offset)
            .limit(query.limit as i64)
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(Page {
            items: items.into_iter().map(Into::into).collect(),
            total,
        })
    }

    /// The change is applied, then the active admins counted; if none remain it is undone
    /// and refused. Two concurrent demotions of the last two admins both undo (the safe
    /// side) rather than both succeed.
    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord> {
        let mut set = Document::new();
        if let Some(role) = change.role {
            set.insert("role", role.as_str());
        }
        if let Some(disabled) = change.disabled {
            set.insert("disabled", disabled);
        }
        let before = self
            .users
            .find_one_and_update(doc! {"_id": user_id}, doc! {"$set": set})
            .return_document(ReturnDocument::Before)
            .await
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)?;
        let was_active_admin = before.role == Role::Admin && !before.disabled;
        if was_active_admin && self.active_admins().await? == 0 {
            self.users
                .update_one(
                    doc! {"_id": user_id},
                    doc! {"$set": {"role": before.role.as_str(), "disabled": before.disabled}},
                )
                .await
                .map_err(map_error)?;
            return Err(StoreError::LastAdmin);
        }
        self.user_by_id(user_id).await?.ok_or(StoreError::NotFound)
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
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
    ) -> StoreResult<Rotation> {
        let rotated = self
            .sessions
            .find_one_and_update(
                rotation_filter(presented.as_str(), now),
                rotation_update(presented.as_str(), successor.as_str(), now, new_expires_at),
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?;
        if let Some(session) = rotated {
            return match self.user_by_id(&session.user_id).await? {
                Some(user) if !user.disabled => Ok(Rotation::Rotated {
                    session: Box::new(session.into()),
                    user: Box::new(user),
                }),
                _ => Ok(Rotation::Invalid),
            };
        }
        // Not current: a hash this session has already superseded means a replay.
        let replayed = self
            .sessions
            .find_one(doc! {"previous_refresh": presented.as_str()})
            .await
            .map_err(map_error)?;
        if let Some(session) = &replayed {
            self.sessions
                .update_one(
                    doc! {"_id": &session.id, "revoked_at": Bson::Null},
                    doc! {"$set": {"revoked_at": now}},
                )
                .await
                .map_err(map_error)?;
        }
        Ok(match replayed {
            Some(session) => Rotation::Reused {
                session_id: session.id,
                user_id: session.user_id,
            },
            None => Rotation::Invalid,
        })
    }

    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(self
            .sessions
            .find_one(rotation_filter(presented.as_str(), now))
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>> {
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
        let result = self
            .sessions
            .update_one(
                doc! {"_id": session_id, "user_id": user_id, "revoked_at": Bson::Null, "expires_at": {"$gt": now}},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(result.modified_count > 0)
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
        let result = self
            .sessions
            .update_many(filter, doc! {"$set": {"revoked_at": now}})
            .await
            .map_err(map_error)?;
        Ok(result.modified_count)
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.revoked
            .update_one(
                doc! {"_id": jti},
                doc! {"$max": {"expires_at": expires_at, "expires_on": date(expires_at)}},
            )
            .upsert(true)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn access_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<AccessStatus>> {
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
        Ok(Some(AccessStatus {
            jti_revoked: revoked.map_err(map_error)?.is_some(),
            session_active: session.revoked_at.is_none() && session.expires_at > now,
            user_disabled: user.disabled,
            role: user.role,
            username: user.username,
        }))
    }

    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        let doc = AuditDoc {
            id: self.next_audit_id().await?,
            at: event.at,
            at_date: date(event.at),
            kind: event.kind.to_owned(),
            user_id: event.user_id,
            username: event.username,
            ip: event.ip,
            user_agent: event.user_agent,
            detail: event.detail,
        };
        self.audit.insert_one(&doc).await.map_err(map_error)?;
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
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
        let events: Vec<AuditDoc> = self
            .audit
            .find(filter)
            .sort(doc! {"_id": -1})
            .skip(query.offset)
            .limit(query.limit as i64)
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
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

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        // The TTL indexes do this within a minute anyway; this keeps both stores alike.
        let revoked = self
            .revoked
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        let sessions = self
            .sessions
            .delete_many(doc! {"expires_at": {"$lte": now}})
            .await
            .map_err(map_error)?;
        Ok(revoked.deleted_count + sessions.deleted_count)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.database
            .run_command(doc! {"ping": 1})
            .await
            .map_err(map_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_round_trips_through_bson() {
        let doc = UserDoc {
            id: "u1".into(),
            username: "Ada".into(),
            username_key: "ada".into(),
            email: Some("ada@example.org".into()),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role: Role::Admin,
            disabled: false,
            created_at: 1_800_000_000,
        };
        let bson = bson::to_document(&doc).unwrap();
        assert_eq!(bson.get_str("_id").unwrap(), "u1");
        assert_eq!(bson.get_str("role").unwrap(), "admin");
        assert_eq!(bson.get_i64("created_at").unwrap(), 1_800_000_000);
        let back: UserDoc = bson::from_document(bson).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn session_expiry_is_stored_as_a_bson_date_for_the_ttl_index() {
        let doc = SessionDoc {
            id: "s1".into(),
            user_id: "u1".into(),
            created_at: 10,
            last_used_at: 10,
            expires_at: 1_800_000_000,
            expires_on: date(1_800_000_000),
            revoked_at: None,
            user_agent: None,
            ip: None,
            current_refresh: "abc".into(),
            previous_refresh: vec![],
        };
        let bson = bson::to_document(&doc).unwrap();
        assert_eq!(
            bson.get_datetime("expires_on").unwrap().timestamp_millis(),
            1_800_000_000_000
        );
        assert_eq!(bson.get("revoked_at"), Some(&Bson::Null));
        let back: SessionDoc = bson::from_document(bson).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn rotation_matches_only_the_current_live_token() {
        let filter = rotation_filter("hash-1", 100);
        assert_eq!(filter.get_str("current_refresh").unwrap(), "hash-1");
        assert_eq!(filter.get("revoked_at"), Some(&Bson::Null));
        assert_eq!(
            filter.get_document("expires_at").unwrap(),
            &doc! {"$gt": 100_i64}
        );
    }

    #[test]
    fn rotation_swaps_the_hash_and_remembers_the_old_one_boundedly() {
        let update = rotation_update("old", "new", 100, 700);
        let set = update.get_document("$set").unwrap();
        assert_eq!(set.get_str("current_refresh").unwrap(), "new");
        assert_eq!(set.get_i64("expires_at").unwrap(), 700);
        assert_eq!(
            set.get_datetime("expires_on").unwrap().timestamp_millis(),
            700_000
        );
        let push = update
            .get_document("$push")
            .unwrap()
            .get_document("previous_refresh")
            .unwrap();
        assert_eq!(
            push.get_array("$each").unwrap(),
            &vec![Bson::String("old".into())]
        );
        assert_eq!(push.get_i32("$slice").unwrap(), -REMEMBERED_REFRESH_HASHES);
    }

    #[test]
    fn an_operator_object_in_input_stays_a_plain_string_value() {
        // Input only ever reaches a filter as a typed value: "{$ne: null}" is a string.
        let filter = rotation_filter("{\"$ne\": null}", 0);
        assert!(matches!(
            filter.get("current_refresh"),
            Some(Bson::String(_))
        ));
    }

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(literal_regex("a.b"), "a\\.b");
        assert_eq!(literal_regex(".*"), "\\.\\*");
        assert_eq!(literal_regex("(x|y)"), "\\(x\\|y\\)");
        assert_eq!(literal_regex("ada_99"), "ada_99");
    }

    #[test]
    fn indexes_enforce_uniqueness_and_expiry() {
        let specs = index_specs();
        let find = |collection: &str, key: &str| {
            specs
                .iter()
                .find(|(c, index)| *c == collection && index.keys.contains_key(key))
                .map(|(_, index)| index.options.clone().unwrap_or_default())
                .unwrap_or_else(|| panic!("no index on {collection}.{key}"))
        };
        assert_eq!(find("users", "username_key").unique, Some(true));
        assert_eq!(find("sessions", "current_refresh").unique, Some(true));
        assert_eq!(find("signing_keys", "algorithm").unique, Some(true));
        assert_eq!(
            find("sessions", "expires_on").expire_after,
            Some(Duration::ZERO)
        );
        assert_eq!(
            find("revoked_tokens", "expires_on").expire_after,
            Some(Duration::ZERO)
        );
        assert_eq!(
            find("audit_events", "at_date").expire_after,
            Some(AUDIT_RETENTION)
        );
        assert!(
            specs
                .iter()
                .any(|(c, i)| *c == "sessions" && i.keys.contains_key("previous_refresh"))
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_within_seconds_not_a_hang() {
        // Nothing listens on port 9 here: the driver's server selection gives up after the
        // 2-second timeout, and the error maps to Unavailable (a 503 for the API).
        let started = std::time::Instant::now();
        let outcome = MongoStore::connect("mongodb://127.0.0.1:9/gatehouse", None).await;
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{:?}",
            outcome.err()
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn mongodb_urls_are_recognised() {
        assert!(is_mongodb_url("mongodb://localhost:27017/gatehouse"));
        assert!(is_mongodb_url("mongodb+srv://cluster0.example.net/"));
        assert!(!is_mongodb_url("sqlite://data"));
        assert!(!is_mongodb_url("./data"));
    }
}
