//! The revocation log on MongoDB: a position counter in the `guards` collection and one
//! entry per position in `revocation_log` (kept a day by a TTL index, for operators).
//!
//! The position is taken with `$inc` after the write it records was acknowledged, so an
//! instance that reads a position has every write up to it behind it, whatever order
//! the entries themselves land in. The counter is one hot document, but revocations are
//! rare next to the reads they spare (every protected request), and it is what makes the
//! position gap-free and monotonic without transactions, on every server that speaks the
//! protocol. An instance polls the counter rather than a change stream: servers without
//! change streams (DocumentDB among them) are supported, and a point read every
//! `bound / 4` stays far inside the bound.

use std::future::Future;

use mongodb::{
    bson::{DateTime, Document, doc},
    options::ReturnDocument,
};

use super::{MongoStore, map_error};
use crate::store::{Rotation, StoreError, StoreResult};

const POSITION_ID: &str = "revocation_position";
/// The first `$inc` of a fresh database is an upsert; two at once can collide on `_id`.
const POSITION_DRAWS: usize = 3;

impl MongoStore {
    /// Runs a write that can refuse accepted tokens to its end, even when its caller stops
    /// waiting (a closed connection): its entry in the log comes after it, in a second
    /// operation that must not be dropped between the two. Then counts it for this
    /// process's memory of access answers when `counts` says so.
    pub(super) async fn to_the_end<T: Send + 'static>(
        &self,
        counts: fn(&StoreResult<T>) -> bool,
        write: impl Future<Output = StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        let local = self.local_revocations.clone();
        tokio::spawn(async move {
            let outcome = write.await;
            if counts(&outcome) {
                local.record();
            }
            outcome
        })
        .await
        .map_err(StoreError::unexpected)?
    }

    /// Records that a write which can refuse accepted tokens has been acknowledged.
    pub(super) async fn append_revocation(&self, kind: &'static str) -> StoreResult<()> {
        let position = self.next_revocation_position().await?;
        self.revocation_log
            .insert_one(doc! {"_id": position, "at": DateTime::now(), "kind": kind})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn next_revocation_position(&self) -> StoreResult<i64> {
        for _ in 0..POSITION_DRAWS {
            let counter = self
                .guards
                .find_one_and_update(
                    doc! {"_id": POSITION_ID},
                    doc! {"$inc": {"position": 1_i64}},
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await
                .map_err(map_error);
            match counter {
                Ok(counter) => return position_of(counter.as_ref()),
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict("revocation position"))
    }

    pub(super) async fn read_revocation_position(&self) -> StoreResult<u64> {
        let counter = self
            .guards
            .find_one(doc! {"_id": POSITION_ID})
            .await
            .map_err(map_error)?;
        match counter {
            None => Ok(0),
            Some(counter) => position_of(Some(&counter)).map(|position| position.max(0) as u64),
        }
    }
}

fn position_of(counter: Option<&Document>) -> StoreResult<i64> {
    counter
        .and_then(|counter| counter.get_i64("position").ok())
        .ok_or_else(|| StoreError::unexpected("the revocation position is not a 64-bit integer"))
}

/// Any outcome: a failed write may still have committed before its answer was lost.
pub(super) fn every_outcome<T>(_: &StoreResult<T>) -> bool {
    true
}

/// A rotation that worked refuses nothing; a replay ends the session.
pub(super) fn a_replay_or_a_failure(outcome: &StoreResult<Rotation>) -> bool {
    !matches!(outcome, Ok(Rotation::Rotated { .. } | Rotation::Invalid))
}
