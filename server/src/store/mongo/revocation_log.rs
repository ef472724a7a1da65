//! The revocation log on MongoDB: a position counter in the `guards` collection and one
//! entry per position in `revocation_log` (kept a day by a TTL index, for operators).
//!
//! Without transactions a revoking write and the position that announces it are two
//! operations, and either may fail alone. So a revoking write is bracketed on the counter
//! document itself:
//! - before it, an entry in the counter's `in_flight` list *opens*;
//! - after it, whatever its outcome, one update removes that entry and (when the write
//!   may have changed something) moves the position.
//!
//! An instance that reads the counter while any entry is open does not renew its trust in
//! the answers it remembers (`revocation_position` answers `None`), so the bound holds
//! whichever single operation fails: a write that failed after committing still moves
//! the position; a closing update that fails leaves the entry open, and instances ask
//! the store until it is closed. The writer retries the close; an entry left open by a
//! process that died is closed (and the position moved) by the first reader that finds
//! it older than `ABANDONED_AFTER`, by when the write it announced has long ended.
//!
//! The counter is one hot document, but revocations are rare next to the reads they
//! spare (every protected request). An instance polls the counter rather than a change
//! stream: servers without change streams (DocumentDB among them) are supported, and a
//! point read every `bound / 4` stays far inside the bound.

use std::{future::Future, time::Duration};

use mongodb::{
    bson::{Bson, DateTime, Document, doc, oid::ObjectId},
    options::ReturnDocument,
};

use super::{MongoStore, map_error};
use crate::store::{Rotation, StoreError, StoreResult};

const POSITION_ID: &str = "revocation_position";
/// The first write to a fresh database's counter is an upsert; two at once can collide on
/// `_id`.
const POSITION_DRAWS: usize = 3;
/// Longer than any single operation of a revoking write can take (the driver gives up on
/// a server it cannot select after 30 s).
const ABANDONED_AFTER: Duration = Duration::from_secs(120);
/// Pauses before each retry of a failed close.
const CLOSE_RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(500),
    Duration::from_secs(2),
];

/// An open entry in the counter's `in_flight` list.
pub(super) struct OpenRevocation {
    id: ObjectId,
}

impl MongoStore {
    /// Runs a write that can refuse accepted tokens to its end, even when its caller stops
    /// waiting (a closed connection): its closing update comes after it and must not be
    /// dropped between the two. Then counts it for this process's memory of access
    /// answers when `counts` says so.
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

    /// Runs `write` between the opening and the closing of its entry in the log. The
    /// position moves when `changed` says the write changed something, or when it failed
    /// in a way that may have committed first. Call it inside `to_the_end`.
    pub(super) async fn revoking<T>(
        &self,
        kind: &'static str,
        changed: impl FnOnce(&T) -> bool,
        write: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let open = self.open_revocation().await?;
        let outcome = write.await;
        let moved = match &outcome {
            Ok(value) => changed(value),
            Err(error) => may_have_committed(error),
        };
        self.close_revocation(open, kind, moved).await;
        outcome
    }

    async fn open_revocation(&self) -> StoreResult<OpenRevocation> {
        self.fault("revocation: open")?;
        let id = ObjectId::new();
        for _ in 0..POSITION_DRAWS {
            let opened = self
                .guards
                .update_one(
                    doc! {"_id": POSITION_ID},
                    doc! {
                        "$push": {"in_flight": {"id": id, "since": DateTime::now()}},
                        "$setOnInsert": {"position": 0_i64},
                    },
                )
                .upsert(true)
                .await
                .map_err(map_error);
            match opened {
                Ok(_) => return Ok(OpenRevocation { id }),
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict("revocation position"))
    }

    /// Never fails its caller: the write has ended, and an entry that cannot be closed
    /// keeps every instance asking the store. Retried in the background, so the caller
    /// gets its answer now; a reader closes the entry as abandoned if no retry succeeds.
    async fn close_revocation(&self, open: OpenRevocation, kind: &'static str, moved: bool) {
        let mut update = doc! {"$pull": {"in_flight": {"id": open.id}}};
        if moved {
            update.insert("$inc", doc! {"position": 1_i64});
        }
        let error = match self.try_close(&update, kind, moved).await {
            Ok(()) => return,
            Err(error) => error,
        };
        tracing::warn!(%error, kind, "cannot close a revocation's log entry; retrying");
        let store = self.clone();
        tokio::spawn(async move {
            for pause in CLOSE_RETRIES {
                tokio::time::sleep(pause).await;
                if store.try_close(&update, kind, moved).await.is_ok() {
                    return;
                }
            }
            tracing::error!(
                kind,
                "cannot close a revocation's log entry: instances ask the store until a \
                 reader closes it as abandoned"
            );
        });
    }

    async fn try_close(
        &self,
        update: &Document,
        kind: &'static str,
        moved: bool,
    ) -> StoreResult<()> {
        self.fault("revocation: close")?;
        let counter = self
            .guards
            .find_one_and_update(doc! {"_id": POSITION_ID}, update.clone())
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_error)?;
        if moved {
            // The entry is for operators: the position has moved already.
            let entry = position_of(counter.as_ref())
                .map(|position| doc! {"_id": position, "at": DateTime::now(), "kind": kind});
            match entry {
                Ok(entry) => {
                    if let Err(error) = self.revocation_log.insert_one(entry).await {
                        tracing::warn!(%error, kind, "cannot write a revocation log entry");
                    }
                }
                Err(error) => tracing::warn!(%error, "the revocation position cannot be read"),
            }
        }
        Ok(())
    }

    /// `None` while a revoking write is open: its outcome is not behind any position yet.
    pub(super) async fn read_revocation_position(&self) -> StoreResult<Option<u64>> {
        let Some(counter) = self
            .guards
            .find_one(doc! {"_id": POSITION_ID})
            .await
            .map_err(map_error)?
        else {
            return Ok(Some(0));
        };
        let open = open_since(&counter);
        if open.is_empty() {
            return position_of(Some(&counter)).map(|position| Some(position.max(0) as u64));
        }
        let abandoned_before = DateTime::from_millis(
            DateTime::now().timestamp_millis() - ABANDONED_AFTER.as_millis() as i64,
        );
        if open.iter().any(|since| *since < abandoned_before) {
            self.close_abandoned(abandoned_before).await?;
        }
        Ok(None)
    }

    /// Its write may have committed: the position moves, as its own close would have.
    async fn close_abandoned(&self, abandoned_before: DateTime) -> StoreResult<()> {
        let closed = self
            .guards
            .update_one(
                doc! {"_id": POSITION_ID, "in_flight.since": {"$lt": abandoned_before}},
                doc! {
                    "$pull": {"in_flight": {"since": {"$lt": abandoned_before}}},
                    "$inc": {"position": 1_i64},
                },
            )
            .await
            .map_err(map_error)?;
        if closed.modified_count > 0 {
            tracing::warn!("closed a revocation log entry its writer abandoned");
        }
        Ok(())
    }
}

#[cfg(test)]
impl MongoStore {
    /// An entry left open by a writer that stopped `age` ago.
    pub async fn abandon_a_revocation(&self, age: Duration) {
        let since =
            DateTime::from_millis(DateTime::now().timestamp_millis() - age.as_millis() as i64);
        self.guards
            .update_one(
                doc! {"_id": POSITION_ID},
                doc! {"$push": {"in_flight": {"id": ObjectId::new(), "since": since}}},
            )
            .upsert(true)
            .await
            .unwrap();
    }

    pub async fn close_every_open_revocation(&self) {
        self.guards
            .update_one(doc! {"_id": POSITION_ID}, doc! {"$set": {"in_flight": []}})
            .await
            .unwrap();
    }
}

fn open_since(counter: &Document) -> Vec<DateTime> {
    match counter.get("in_flight") {
        Some(Bson::Array(entries)) => entries
            .iter()
            .filter_map(|entry| entry.as_document()?.get_datetime("since").ok().copied())
            .collect(),
        _ => Vec::new(),
    }
}

fn position_of(counter: Option<&Document>) -> StoreResult<i64> {
    let counter = counter.ok_or_else(|| StoreError::unexpected("no revocation position"))?;
    match counter.get("position") {
        None => Ok(0),
        Some(Bson::Int64(position)) => Ok(*position),
        Some(_) => Err(StoreError::unexpected(
            "the revocation position is not a 64-bit integer",
        )),
    }
}

/// A failure that may have come after the server committed (its answer lost).
fn may_have_committed(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Unavailable(_) | StoreError::Unexpected(_)
    )
}

/// Any outcome: a failed write may still have committed before its answer was lost.
pub(super) fn every_outcome<T>(_: &StoreResult<T>) -> bool {
    true
}

/// A rotation that worked refuses nothing; a replay ends the session.
pub(super) fn a_replay_or_a_failure(outcome: &StoreResult<Rotation>) -> bool {
    !matches!(outcome, Ok(Rotation::Rotated { .. } | Rotation::Invalid))
}
