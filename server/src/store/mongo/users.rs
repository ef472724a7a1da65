//! Accounts on MongoDB: uniqueness by a unique index on the normalized name; the first
//! admin and every change that could leave no active admin are made under the admin
//! lease (`lease.rs`).

use super::documents::UserDoc;
use super::queries::literal_regex;
use super::queries::page_of;
use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::domain::{LinkPurpose, PasswordHashString, WaysOff};
use crate::store::{
    NewEmail, NewUser, Page, StoreError, StoreResult, UserChange, UserQuery, UserRecord, UserStore,
};
use app::model::Role;
use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

#[async_trait]
impl UserStore for MongoStore {
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
            .sort(doc! {"email_verified": -1, "created_at": 1, "_id": 1})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    /// Logged as a revocation: instances remember the address with the access answers.
    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord> {
        let store = self.clone();
        let (user_id, email) = (user_id.to_owned(), email.cloned());
        self.to_the_end(every_outcome, async move {
            store
                .revoking(
                    "email",
                    |_| true,
                    store.replace_email(&user_id, email.as_ref()),
                )
                .await
        })
        .await
    }

    async fn set_ways_off(&self, user_id: &str, off: WaysOff) -> StoreResult<UserRecord> {
        self.indexed().await?;
        let update = match off.stored() {
            none if none.is_empty() => doc! {"$unset": {"ways_off": ""}},
            names => doc! {"$set": {"ways_off": names}},
        };
        self.users
            .find_one_and_update(doc! {"_id": user_id}, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
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
        let store = self.clone();
        let user_id = user_id.to_owned();
        let change = change.clone();
        self.to_the_end(every_outcome, async move {
            let user_id = user_id.as_str();
            let change = &change;
            store.indexed().await?;
            let could_remove_an_admin =
                change.role == Some(Role::User) || change.disabled == Some(true);
            if !could_remove_an_admin {
                // A promotion or re-enabling: remembered answers hold the old role.
                return store
                    .revoking("user", |_| true, store.apply_user_change(user_id, change))
                    .await;
            }
            let lease = store.admin_lease().await?;
            let outcome = store
                .revoking(
                    "user",
                    |_| true,
                    store.change_keeping_an_admin(user_id, change),
                )
                .await;
            lease.release().await;
            outcome
        })
        .await
    }
}

impl MongoStore {
    /// Links mailed to the old address die with it (whoever reads that inbox now may
    /// not be the account's owner) — first, so that a failure between the writes leaves
    /// the address unchanged and a retry does all.
    async fn replace_email(
        &self,
        user_id: &str,
        email: Option<&NewEmail>,
    ) -> StoreResult<UserRecord> {
        self.indexed().await?;
        for purpose in [
            LinkPurpose::VerifyEmail,
            LinkPurpose::ResetPassword,
            LinkPurpose::SignInCode,
        ] {
            self.delete_links(user_id, purpose).await?;
        }
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
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)?;
        Ok(updated.into())
    }

    pub(super) async fn change_keeping_an_admin(
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

    pub(super) async fn apply_user_change(
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

    pub(super) async fn any_admin(&self) -> StoreResult<bool> {
        Ok(self
            .users
            .find_one(doc! {"role": "admin"})
            .await
            .map_err(map_error)?
            .is_some())
    }

    /// Which unique index refused a new user: only the username's can (a new address is
    /// unverified, and only verified addresses are unique).
    pub(super) async fn which_conflict(&self, _user: &NewUser) -> StoreError {
        StoreError::Conflict("username")
    }
}
