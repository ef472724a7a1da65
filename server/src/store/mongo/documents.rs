//! The documents each collection holds, and their mapping to the store's records.

use app::model::Role;
use mongodb::bson::{self, DateTime, spec::BinarySubtype};
use serde::{Deserialize, Serialize};

use crate::{
    domain::{FirstStep, LinkPurpose, PasswordHashString, WaysOff},
    store::{
        CeremonyRecord, ForwardRule, LinkRecord, NewCeremony, NewLink, NewPasskey, NewStepUp,
        NewUser, PasskeyRecord, SecondFactors, SessionRecord, StepUpRecord, TotpRecord, UserRecord,
    },
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    /// Absent when there is no address: the unique index covers only strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_key: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    /// Absent on an account that signs in without a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    /// The ways in the owner turned off, as `WaysOff::stored` names them; absent: none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ways_off: String,
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
    /// A re-entry of the password after the sign-in; absent until the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_at: Option<i64>,
    /// Signed in with a second factor or a passkey; absent (false) in sessions made
    /// before it was recorded.
    #[serde(default)]
    pub second_factor: bool,
    /// How it signed in ([`crate::domain::SignInMethod::stored`]); absent in sessions
    /// made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_method: Option<String>,
    /// The app this session signed in (OpenID Connect), and what it was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A refresh token that has been rotated away, remembered until the token itself would
/// have expired, so that presenting it again is recognised as reuse however many
/// rotations later. `_id` is the token's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SupersededDoc {
    #[serde(rename = "_id")]
    pub hash: String,
    pub session_id: String,
    pub user_id: String,
    pub expires_on: DateTime,
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

/// A mailed link: `_id` is the token's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct LinkDoc {
    #[serde(rename = "_id")]
    pub hash: String,
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expires_on: DateTime,
}

impl LinkDoc {
    pub fn record(self) -> Option<LinkRecord> {
        Some(LinkRecord {
            user_id: self.user_id,
            purpose: LinkPurpose::parse(&self.purpose)?,
            email: self.email,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

impl From<&NewLink> for LinkDoc {
    fn from(link: &NewLink) -> Self {
        LinkDoc {
            hash: link.hash.as_str().to_owned(),
            user_id: link.user_id.clone(),
            purpose: link.purpose.as_str().to_owned(),
            email: link.email.clone(),
            created_at: link.created_at,
            expires_at: link.expires_at,
            expires_on: date(link.expires_at),
        }
    }
}

/// A user's second factors, one document per user (`_id` is the user id), so that every
/// decision about them is one atomic single-document update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct FactorDoc {
    #[serde(rename = "_id")]
    pub user_id: String,
    pub sealed_secret: String,
    #[serde(default)]
    pub sealed_recovery_codes: Option<String>,
    /// Null while being set up.
    #[serde(default)]
    pub confirmed_at: Option<i64>,
    pub last_used_step: i64,
    pub created_at: i64,
    /// Hashes of the recovery codes left.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
}

impl FactorDoc {
    pub fn factors(self) -> SecondFactors {
        SecondFactors {
            recovery_codes_left: u32::try_from(self.recovery_codes.len()).unwrap_or(u32::MAX),
            totp: Some(TotpRecord {
                sealed_secret: self.sealed_secret,
                sealed_recovery_codes: self.sealed_recovery_codes,
                confirmed_at: self.confirmed_at,
                last_used_step: self.last_used_step,
                created_at: self.created_at,
            }),
        }
    }
}

/// A step-up ticket: `_id` is its hash; `expires_on` feeds the TTL index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StepUpDoc {
    #[serde(rename = "_id")]
    pub hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expires_on: DateTime,
    /// Guesses taken at the second step; the ticket dies at the limit.
    #[serde(default)]
    pub wrong_codes: i64,
    /// [`FirstStep::stored`]; absent for a password (and in tickets from before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_step: Option<String>,
}

impl From<&NewStepUp> for StepUpDoc {
    fn from(ticket: &NewStepUp) -> Self {
        StepUpDoc {
            hash: ticket.hash.as_str().to_owned(),
            user_id: ticket.user_id.clone(),
            created_at: ticket.created_at,
            expires_at: ticket.expires_at,
            expires_on: date(ticket.expires_at),
            wrong_codes: 0,
            first_step: ticket.first_step.stored().map(str::to_owned),
        }
    }
}

impl From<StepUpDoc> for StepUpRecord {
    fn from(doc: StepUpDoc) -> Self {
        StepUpRecord {
            first_step: FirstStep::from_stored(doc.first_step.as_deref()),
            user_id: doc.user_id,
            created_at: doc.created_at,
            expires_at: doc.expires_at,
        }
    }
}

/// A passkey: `_id` is the credential id, so no credential can belong to two accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PasskeyDoc {
    #[serde(rename = "_id")]
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

impl From<&NewPasskey> for PasskeyDoc {
    fn from(passkey: &NewPasskey) -> Self {
        PasskeyDoc {
            credential_id: passkey.credential_id.clone(),
            user_id: passkey.user_id.clone(),
            name: passkey.name.clone(),
            passkey: passkey.passkey.clone(),
            created_at: passkey.created_at,
            last_used_at: None,
        }
    }
}

impl From<PasskeyDoc> for PasskeyRecord {
    fn from(doc: PasskeyDoc) -> Self {
        PasskeyRecord {
            credential_id: doc.credential_id,
            user_id: doc.user_id,
            name: doc.name,
            passkey: doc.passkey,
            created_at: doc.created_at,
            last_used_at: doc.last_used_at,
        }
    }
}

/// A passkey ceremony's server-side state: `_id` is its hash; `expires_on` feeds the TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct CeremonyDoc {
    #[serde(rename = "_id")]
    pub hash: String,
    pub user_id: Option<String>,
    pub purpose: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expires_on: DateTime,
}

impl From<&NewCeremony> for CeremonyDoc {
    fn from(ceremony: &NewCeremony) -> Self {
        CeremonyDoc {
            hash: ceremony.hash.as_str().to_owned(),
            user_id: ceremony.user_id.clone(),
            purpose: ceremony.purpose.as_str().to_owned(),
            state: ceremony.state.clone(),
            created_at: ceremony.created_at,
            expires_at: ceremony.expires_at,
            expires_on: date(ceremony.expires_at),
        }
    }
}

impl From<CeremonyDoc> for CeremonyRecord {
    fn from(doc: CeremonyDoc) -> Self {
        CeremonyRecord {
            user_id: doc.user_id,
            state: doc.state,
            expires_at: doc.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ForwardRuleDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub host: String,
    pub path_prefix: String,
    pub roles: Vec<Role>,
    pub users: Vec<String>,
    pub two_factor: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ForwardRule> for ForwardRuleDoc {
    fn from(rule: ForwardRule) -> Self {
        ForwardRuleDoc {
            id: rule.id,
            host: rule.host,
            path_prefix: rule.path_prefix,
            roles: rule.roles,
            users: rule.users,
            two_factor: rule.two_factor,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }
}

impl From<ForwardRuleDoc> for ForwardRule {
    fn from(doc: ForwardRuleDoc) -> Self {
        ForwardRule {
            id: doc.id,
            host: doc.host,
            path_prefix: doc.path_prefix,
            roles: doc.roles,
            users: doc.users,
            two_factor: doc.two_factor,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct KeyDoc {
    #[serde(rename = "_id")]
    pub kid: String,
    pub algorithm: String,
    /// Absent on keys stored before rotation existed: those are generation 0.
    #[serde(default)]
    pub generation: i64,
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
            email_verified: doc.email_verified,
            password_hash: doc.password_hash.map(PasswordHashString::from_phc),
            role: doc.role,
            disabled: doc.disabled,
            created_at: doc.created_at,
            ways_off: WaysOff::from_stored(&doc.ways_off),
        }
    }
}

impl From<&NewUser> for UserDoc {
    fn from(user: &NewUser) -> Self {
        UserDoc {
            id: user.id.clone(),
            username: user.username.clone(),
            username_key: user.username_key.clone(),
            email: user.email.as_ref().map(|email| email.address.clone()),
            email_key: user.email.as_ref().map(|email| email.key.clone()),
            email_verified: false,
            password_hash: user
                .password_hash
                .as_ref()
                .map(|hash| hash.as_str().to_owned()),
            role: user.role,
            disabled: false,
            created_at: user.created_at,
            ways_off: String::new(),
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
            grant: match (doc.client_id, doc.scope) {
                (Some(client_id), Some(scope)) => {
                    Some(crate::store::ClientGrant { client_id, scope })
                }
                _ => None,
            },
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
