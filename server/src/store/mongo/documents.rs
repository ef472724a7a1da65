//! The documents each collection holds, and their mapping to the store's records.

use app::model::Role;
use mongodb::bson::{self, DateTime, spec::BinarySubtype};
use serde::{Deserialize, Serialize};

use crate::{
    domain::PasswordHashString,
    store::{NewUser, SessionRecord, UserRecord},
};

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
pub(super) struct RevokedDoc {
    #[serde(rename = "_id")]
    pub jti: String,
    pub expires_at: i64,
    pub expires_on: DateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AuditDoc {
    #[serde(rename = "_id")]
    pub id: i64,
    pub at: i64,
    pub at_date: DateTime,
    pub kind: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct KeyDoc {
    #[serde(rename = "_id")]
    pub kid: String,
    pub algorithm: String,
    pub private_der: bson::Binary,
    pub public_raw: bson::Binary,
    pub created_at: i64,
}

impl From<UserDoc> for UserRecord {
    fn from(doc: UserDoc) -> Self {
        UserRecord {
            id: doc.id,
            username: doc.username,
            username_key: doc.username_key,
            email: doc.email,
            password_hash: PasswordHashString::from_phc(doc.password_hash),
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

pub(super) fn date(unix_secs: i64) -> DateTime {
    DateTime::from_millis(unix_secs.saturating_mul(1000))
}

pub(super) fn binary(bytes: Vec<u8>) -> bson::Binary {
    bson::Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}
