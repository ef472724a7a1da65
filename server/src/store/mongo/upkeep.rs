//! Purging and readiness on MongoDB (TTL indexes purge too; this keeps both stores
//! alike).

use super::documents::date;
use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::store::{StoreResult, Upkeep, codes::SPENT_CODE_MEMORY_SECS};
use async_trait::async_trait;
use mongodb::bson::doc;

#[async_trait]
impl Upkeep for MongoStore {
    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store.indexed().await?;
            // The TTL indexes do this within a minute anyway; this keeps both stores alike.
            // Tickets and ceremonies refuse no token: their removal alone is no revocation.
            let tickets = store
                .step_ups
                .delete_many(doc! {"expires_at": {"$lte": now}})
                .await
                .map_err(map_error)?;
            let ceremonies = store
                .ceremonies
                .delete_many(doc! {"expires_at": {"$lte": now}})
                .await
                .map_err(map_error)?;
            let codes = store
                .codes
                .delete_many(doc! {"expires_at": {"$lte": now - SPENT_CODE_MEMORY_SECS}})
                .await
                .map_err(map_error)?;
            let removed = store
                .revoking("purge", |removed| *removed > 0, async {
                    let links = store
                        .links
                        .delete_many(doc! {"expires_at": {"$lte": now}})
                        .await
                        .map_err(map_error)?;
                    let revoked = store
                        .revoked
                        .delete_many(doc! {"expires_at": {"$lte": now}})
                        .await
                        .map_err(map_error)?;
                    let superseded = store
                        .superseded
                        .delete_many(doc! {"expires_on": {"$lte": date(now)}})
                        .await
                        .map_err(map_error)?;
                    let sessions = store
                        .sessions
                        .delete_many(doc! {"expires_at": {"$lte": now}})
                        .await
                        .map_err(map_error)?;
                    Ok(links.deleted_count
                        + revoked.deleted_count
                        + superseded.deleted_count
                        + sessions.deleted_count)
                })
                .await?;
            Ok(removed + tickets.deleted_count + ceremonies.deleted_count + codes.deleted_count)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.indexed().await?;
        self.database
            .run_command(doc! {"ping": 1})
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
