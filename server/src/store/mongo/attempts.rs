//! Sign-in attempts on MongoDB: the count is read, `AttemptRule` computes the next one,
//! and the write succeeds only if nobody wrote in between (a compare-and-swap on
//! `version`; a first write is an insert that the unique `_id` settles). A loser reads
//! again, so parallel attempts are counted one by one, on every instance.

use async_trait::async_trait;
use mongodb::bson::{DateTime, doc};
use serde::{Deserialize, Serialize};

use super::documents::date;
use super::{MongoStore, map_error};
use crate::store::{AttemptCount, AttemptRule, AttemptStore, Reservation, StoreError, StoreResult};

/// Enough for every parallel attempt a server can hold to get its turn.
const MAX_ROUNDS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AttemptDoc {
    #[serde(rename = "_id")]
    key: String,
    run: i64,
    total: i64,
    last_at: i64,
    blocked_until: i64,
    version: i64,
    /// Absent while capped: the TTL index then keeps the record until it is cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_on: Option<DateTime>,
}

impl AttemptDoc {
    fn count(&self) -> AttemptCount {
        let narrow = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
        AttemptCount {
            run: narrow(self.run),
            total: narrow(self.total),
            last_at: self.last_at,
            blocked_until: self.blocked_until,
        }
    }

    fn next(key: &str, count: &AttemptCount, version: i64, rule: &AttemptRule) -> AttemptDoc {
        AttemptDoc {
            key: key.to_owned(),
            run: i64::from(count.run),
            total: i64::from(count.total),
            last_at: count.last_at,
            blocked_until: count.blocked_until,
            version,
            expires_on: rule.expires_at(count).map(date),
        }
    }
}

impl MongoStore {
    /// Writes `next` in place of `current` (absent: a first record) unless another
    /// writer came first; false then.
    async fn swap_attempts(
        &self,
        current: Option<&AttemptDoc>,
        next: &AttemptDoc,
    ) -> StoreResult<bool> {
        match current {
            None => match self.attempts.insert_one(next).await.map_err(map_error) {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(error) => Err(error),
            },
            Some(current) => {
                let replaced = self
                    .attempts
                    .replace_one(doc! {"_id": &current.key, "version": current.version}, next)
                    .await
                    .map_err(map_error)?;
                Ok(replaced.matched_count == 1)
            }
        }
    }

    async fn attempt_doc(&self, key: &str) -> StoreResult<Option<AttemptDoc>> {
        self.attempts
            .find_one(doc! {"_id": key})
            .await
            .map_err(map_error)
    }
}

fn contended() -> StoreError {
    StoreError::unavailable("too many parallel sign-in attempts for one key")
}

#[async_trait]
impl AttemptStore for MongoStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        now: i64,
    ) -> StoreResult<Reservation> {
        self.indexed().await?;
        for _ in 0..MAX_ROUNDS {
            let current = self.attempt_doc(key).await?;
            let count = current.as_ref().map(AttemptDoc::count).unwrap_or_default();
            let next = match rule.reserve(count, now) {
                Ok(next) => next,
                Err(refused) => return Ok(refused),
            };
            let version = current.as_ref().map_or(0, |doc| doc.version) + 1;
            let next = AttemptDoc::next(key, &next, version, rule);
            if self.swap_attempts(current.as_ref(), &next).await? {
                return Ok(Reservation::Granted {
                    previous_blocked_until: count.blocked_until,
                });
            }
        }
        Err(contended())
    }

    async fn release_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        previous_blocked_until: i64,
    ) -> StoreResult<()> {
        self.indexed().await?;
        for _ in 0..MAX_ROUNDS {
            let Some(current) = self.attempt_doc(key).await? else {
                return Ok(());
            };
            let next = rule.release(current.count(), previous_blocked_until);
            let next = AttemptDoc::next(key, &next, current.version + 1, rule);
            if self.swap_attempts(Some(&current), &next).await? {
                return Ok(());
            }
        }
        Err(contended())
    }

    async fn clear_attempts(&self, key: &str) -> StoreResult<()> {
        self.indexed().await?;
        self.attempts
            .delete_one(doc! {"_id": key})
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn attempts_of(&self, key: &str) -> StoreResult<Option<AttemptCount>> {
        self.indexed().await?;
        Ok(self.attempt_doc(key).await?.map(|doc| doc.count()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: AttemptRule = AttemptRule {
        threshold: 5,
        base_lockout_secs: 2,
        max_lockout_secs: 900,
        window_secs: 600,
        cap: Some(100),
        retention_secs: 3600,
    };

    #[test]
    fn a_capped_record_has_no_expiry_for_the_ttl_index_to_act_on() {
        let count = |total| AttemptCount {
            run: 1,
            total,
            last_at: 1_000,
            blocked_until: 0,
        };
        let open =
            mongodb::bson::to_document(&AttemptDoc::next("user:ada", &count(3), 1, &RULE)).unwrap();
        assert_eq!(open.get_datetime("expires_on").unwrap(), &date(4_600));
        let capped =
            mongodb::bson::to_document(&AttemptDoc::next("user:ada", &count(100), 2, &RULE))
                .unwrap();
        assert!(!capped.contains_key("expires_on"));
        let back: AttemptDoc = mongodb::bson::from_document(capped).unwrap();
        assert_eq!(back.count(), count(100));
    }
}
