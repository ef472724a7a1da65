//! The admin lease: the changes that decide how many admins exist (the first-admin
//! bootstrap, demoting or disabling an admin) are made one at a time across every
//! instance on the database. A MongoDB server without a replica set has no transactions,
//! so a count and the write it allows cannot be made atomic any other way; a lease is one
//! conditional upsert on a guard document, on every server that speaks the protocol.
//!
//! A holder that dies keeps the others out only until the lease runs out. A holder
//! stalled for longer than that (or instance clocks further apart than that) could
//! overlap with the next one; every leased change is two or three round trips, far
//! inside the lease.

use std::time::{Duration, Instant};

use mongodb::{
    Collection,
    bson::{DateTime, Document, doc},
};

use super::{MongoStore, map_error};
use crate::store::{StoreError, StoreResult};

const GUARD_ID: &str = "admin_changes";
const LEASE: Duration = Duration::from_secs(5);
/// How long a change waits for the lease before answering "unavailable" (a 503).
const WAIT: Duration = Duration::from_secs(3);
const RETRY_EVERY: Duration = Duration::from_millis(15);

pub(super) struct AdminLease {
    guards: Collection<Document>,
    holder: String,
}

impl MongoStore {
    pub(super) async fn admin_lease(&self) -> StoreResult<AdminLease> {
        let holder = uuid::Uuid::now_v7().to_string();
        let give_up = Instant::now() + WAIT;
        loop {
            let now = DateTime::now();
            let until = DateTime::from_millis(now.timestamp_millis() + LEASE.as_millis() as i64);
            // Matches only a lapsed lease; with a live one the upsert's insert collides
            // with the guard's `_id`, which is how "someone holds it" is told.
            let taken = self
                .guards
                .update_one(
                    doc! {"_id": GUARD_ID, "until": {"$lt": now}},
                    doc! {"$set": {"holder": &holder, "until": until}},
                )
                .upsert(true)
                .await
                .map_err(map_error);
            match taken {
                Ok(_) => {
                    return Ok(AdminLease {
                        guards: self.guards.clone(),
                        holder,
                    });
                }
                Err(StoreError::Conflict(_)) if Instant::now() < give_up => {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(StoreError::unavailable(
                        "another admin change held the lease for too long",
                    ));
                }
                Err(other) => return Err(other),
            }
        }
    }
}

impl AdminLease {
    /// Ends the lease at once. A release that fails leaves it to run out by itself.
    pub(super) async fn release(self) {
        let released = self
            .guards
            .delete_one(doc! {"_id": GUARD_ID, "holder": &self.holder})
            .await;
        if let Err(error) = released {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "the admin lease is left to expire"
            );
        }
    }
}
