//! Accounts: who exists, their password hash, address, role and whether they are enabled.

use super::{Page, StoreResult};
use crate::domain::{PasswordHashString, WaysOff};
use app::model::Role;
use async_trait::async_trait;

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    /// The address in `email` was proven by a mailed link (reset after every change).
    pub email_verified: bool,
    /// `None`: the account signs in with a passkey or a code by email only.
    pub password_hash: Option<PasswordHashString>,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    /// The ways in its owner turned off.
    pub ways_off: WaysOff,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<NewEmail>,
    pub password_hash: Option<PasswordHashString>,
    pub role: Role,
    pub created_at: i64,
}

/// An address to keep on an account: as given, and its case-folded key, unique among
/// the accounts that have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEmail {
    pub address: String,
    pub key: String,
}

#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Substring of the username (case-insensitive).
    pub search: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Clone, Debug, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Fails with `Conflict` when the username key is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    /// Creates the user as admin only if no admin exists yet; `Ok(None)` otherwise.
    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>>;
    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_email_key(&self, key: &str) -> StoreResult<Option<UserRecord>>;
    /// Sets the password hash; every reset link of the user dies with the old password.
    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()>;
    /// Sets (or with `None` removes) the user's address, unverified, and ends every
    /// link and sign-in code sent to an earlier one. `Conflict("email")` when another account
    /// has it.
    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord>;
    /// Replaces the ways in the owner turned off; `NotFound` when there is no such user.
    async fn set_ways_off(&self, user_id: &str, off: WaysOff) -> StoreResult<UserRecord>;
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>>;
    /// Applies a role / disabled change, refusing with `LastAdmin` if no active admin
    /// would remain; decided atomically with the write.
    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord>;
}
