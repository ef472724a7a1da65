//! Second factors and step-up tickets on MongoDB: each code, step and ticket is
//! spent by one conditional update or delete.

use super::documents::{FactorDoc, StepUpDoc};
use super::{MongoStore, map_error};
use crate::domain::{RecoveryCodeHash, TicketHash};
use crate::store::{
    FactorStore, NewStepUp, NewTotp, SecondFactors, StepUpRecord, StoreError, StoreResult,
};
use async_trait::async_trait;
use mongodb::bson::{Bson, doc};

#[async_trait]
impl FactorStore for MongoStore {
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

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_codes: &[RecoveryCodeHash],
        sealed_to_show: Option<&str>,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let codes: Vec<&str> = recovery_codes
            .iter()
            .map(RecoveryCodeHash::as_str)
            .collect();
        let replaced = self
            .factors
            .update_one(
                doc! {"_id": user_id, "confirmed_at": {"$ne": Bson::Null}},
                doc! {"$set": {
                    "sealed_recovery_codes": sealed_to_show.map_or(Bson::Null, Bson::from),
                    "recovery_codes": codes,
                }},
            )
            .await
            .map_err(map_error)?;
        Ok(replaced.matched_count == 1)
    }

    async fn forget_shown_recovery_codes(&self, user_id: &str) -> StoreResult<bool> {
        self.indexed().await?;
        let forgotten = self
            .factors
            .update_one(
                doc! {
                    "_id": user_id,
                    "confirmed_at": {"$ne": Bson::Null},
                    "sealed_recovery_codes": {"$ne": Bson::Null},
                },
                doc! {"$set": {"sealed_recovery_codes": Bson::Null}},
            )
            .await
            .map_err(map_error)?;
        Ok(forgotten.matched_count == 1)
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

    /// One conditional increment: of parallel guesses, exactly `guesses` match.
    async fn spend_step_up_guess(
        &self,
        hash: &TicketHash,
        now: i64,
        guesses: u32,
    ) -> StoreResult<Option<StepUpRecord>> {
        self.indexed().await?;
        Ok(self
            .step_ups
            .find_one_and_update(
                doc! {
                    "_id": hash.as_str(),
                    "expires_at": {"$gt": now},
                    "wrong_codes": {"$lt": i64::from(guesses)},
                },
                doc! {"$inc": {"wrong_codes": 1_i64}},
            )
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
